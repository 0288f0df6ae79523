package io.sandboxd.daemon.runtime;

/** A runtime could not do what was asked; the message says what failed and, where it can, what to do. */
public class SandboxRuntimeException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public SandboxRuntimeException(String message) {
        super(message);
    }

    public SandboxRuntimeException(String message, Throwable cause) {
        super(message, cause);
    }
}
