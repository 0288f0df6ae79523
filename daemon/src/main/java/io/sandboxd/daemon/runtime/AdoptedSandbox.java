package io.sandboxd.daemon.runtime;

/**
 * A sandbox an earlier daemon started that this one took over at start-up ({@link SandboxRuntime#adopt}): a handle
 * equivalent to one from {@link SandboxRuntime#create}, and whether its processes are frozen now. The runtime's
 * word on paused-or-not wins over the store's, which may have been written mid-transition when the daemon died.
 */
public record AdoptedSandbox(RunningSandbox handle, boolean paused) {
    public AdoptedSandbox {
        java.util.Objects.requireNonNull(handle, "handle");
    }
}
