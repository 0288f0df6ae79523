package io.sandboxd.daemon.runtime;

/** The runtime holds no sandbox with this ID (never created, or already killed). */
public final class SandboxNotFoundException extends SandboxRuntimeException {
    private static final long serialVersionUID = 1L;

    private final String sandboxId;

    public SandboxNotFoundException(String runtime, String sandboxId) {
        super("the " + runtime + " runtime holds no sandbox '" + sandboxId + "'");
        this.sandboxId = sandboxId;
    }

    public String sandboxId() {
        return sandboxId;
    }
}
