package io.sandboxd.daemon.orchestrator;

/**
 * What a clean shutdown ({@code SIGTERM}, {@code systemctl stop}) does to the sandboxes this process runs
 * ({@code serve --on-shutdown}).
 */
public enum ShutdownPolicy {
    /** Kill every sandbox and remove its row: nothing is left on the host or in the store. The default. */
    KILL,
    /** Pause the running ones (rows become paused), leave the paused ones; the next start adopts them. */
    PAUSE,
    /** Leave every sandbox as it is, running; the next start adopts them. */
    KEEP;

    /** {@code kill}, {@code pause} or {@code keep}, as the option spells them. */
    public String optionName() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }

    /** Whether the sandboxes are meant to outlive this process (so the runtime must not remove them). */
    public boolean leavesSandboxes() {
        return this != KILL;
    }
}
