package io.sandboxd.api.sandbox;

/**
 * How a {@link SandboxService} refuses a request. The reason decides the HTTP status (one mapping, in the API);
 * the message is shown to the SDK user, so it says what happened and, where it helps, what to do.
 */
public final class SandboxException extends RuntimeException {
    public enum Reason {
        INVALID(400),
        FORBIDDEN(403),
        NOT_FOUND(404),
        /** Wrong state for the operation: pausing a paused sandbox, resuming a running one, a transition in flight. */
        CONFLICT(409),
        RATE_LIMITED(429),
        /** A part of the host failed (a runtime's tool, the store): the message names it and what it said. */
        FAILED(500),
        NOT_IMPLEMENTED(501),
        /** The sandbox's own agent (envd) did not start or refused what it was sent. */
        AGENT_FAILED(502),
        /** No capacity now (the warm pool stayed empty for the whole wait): retrying later can succeed. */
        BUSY(503);

        private final int status;

        Reason(int status) {
            this.status = status;
        }

        public int status() {
            return status;
        }
    }

    private final Reason reason;

    public SandboxException(Reason reason, String message) {
        super(message);
        this.reason = reason;
    }

    public SandboxException(Reason reason, String message, Throwable cause) {
        super(message, cause);
        this.reason = reason;
    }

    public Reason reason() {
        return reason;
    }

    public static SandboxException notFound(String sandboxId) {
        return new SandboxException(Reason.NOT_FOUND, "sandbox \"" + sandboxId + "\" doesn't exist or you don't have access to it");
    }

    public static SandboxException conflict(String message) {
        return new SandboxException(Reason.CONFLICT, message);
    }

    public static SandboxException invalid(String message) {
        return new SandboxException(Reason.INVALID, message);
    }
}
