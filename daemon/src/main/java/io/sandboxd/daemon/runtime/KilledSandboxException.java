package io.sandboxd.daemon.runtime;

/** A call on a handle whose sandbox was already killed. */
public final class KilledSandboxException extends SandboxRuntimeException {
    private static final long serialVersionUID = 1L;

    public KilledSandboxException(String runtime, String sandboxId) {
        super("sandbox '" + sandboxId + "' of the " + runtime + " runtime was killed");
    }
}
