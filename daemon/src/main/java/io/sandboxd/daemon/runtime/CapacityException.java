package io.sandboxd.daemon.runtime;

/**
 * The runtime is healthy but has no room for one more sandbox now (its pool stayed empty for the whole wait, no
 * network slot is free): a retry later can succeed, unlike a {@link SandboxRuntimeException} of a broken host.
 */
public final class CapacityException extends SandboxRuntimeException {
    private static final long serialVersionUID = 1L;

    public CapacityException(String message) {
        super(message);
    }

    public CapacityException(String message, Throwable cause) {
        super(message, cause);
    }
}
