package io.sandboxd.daemon.host;

/**
 * A host tool or host state did not do what was asked (a command that cannot start or failed, a mount in the way):
 * the message names the tool and what it said. Runtimes let these through as failures of their own.
 */
public class HostException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public HostException(String message) {
        super(message);
    }

    public HostException(String message, Throwable cause) {
        super(message, cause);
    }
}
