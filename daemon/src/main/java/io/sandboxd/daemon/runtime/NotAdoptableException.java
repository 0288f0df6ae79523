package io.sandboxd.daemon.runtime;

/**
 * The sandbox an earlier daemon started cannot be taken over: its host resources are gone or incomplete, its
 * processes stopped, or this runtime already holds it. The orchestrator then treats its row as dead, and the
 * runtime's reconciliation removes whatever is left of it.
 */
public final class NotAdoptableException extends SandboxRuntimeException {
    private static final long serialVersionUID = 1L;

    public NotAdoptableException(String sandboxId, String why) {
        super("sandbox " + sandboxId + " cannot be taken over: " + why);
    }

    public NotAdoptableException(String sandboxId, String why, Throwable cause) {
        super("sandbox " + sandboxId + " cannot be taken over: " + why, cause);
    }
}
