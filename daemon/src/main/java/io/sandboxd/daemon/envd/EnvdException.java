package io.sandboxd.daemon.envd;

/** A sandbox's envd did not become ready or did not take what it was sent; the message says where and what it said. */
public class EnvdException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public EnvdException(String message) {
        super(message);
    }

    public EnvdException(String message, Throwable cause) {
        super(message, cause);
    }
}
