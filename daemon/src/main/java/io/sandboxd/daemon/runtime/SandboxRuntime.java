package io.sandboxd.daemon.runtime;

import java.util.List;
import java.util.function.Consumer;

/**
 * What the orchestrator asks of a place where sandboxes run. Two implementations: {@code vm} (KVM microVMs restored
 * from snapshots) and {@code jail} (runc containers on an overlayfs). Sandboxes are named by the orchestrator's
 * sandbox ID; every method that takes an ID throws {@link SandboxNotFoundException} for an ID this runtime does
 * not hold. Failures of the host tools behind a runtime surface as {@link SandboxRuntimeException}s whose
 * message names the tool and what it said.
 *
 * <p>Implementations are thread-safe; calls on different sandboxes run concurrently, calls on one sandbox are
 * serialised by the runtime (the orchestrator's state machine decides which calls are legal when).
 */
public interface SandboxRuntime extends AutoCloseable {

    /** {@code jail} or {@code vm}: the name {@code --runtime} and {@code doctor} use. */
    String name();

    /**
     * Makes {@code templateId} ready to create sandboxes from: builds it if this runtime knows how and it is not
     * built yet (the {@code base} template: a debootstrap run of about a minute), then warms its pool.
     *
     * @param progress receives human-readable lines while a build runs (the serve command's progress display)
     * @throws SandboxRuntimeException if the template is unknown or its build fails
     */
    PreparedTemplate prepareTemplate(String templateId, Consumer<String> progress);

    /** Starts a sandbox; when this returns the sandbox's agent answers at {@link Sandbox#envdAddress()}. */
    Sandbox create(SandboxSpec spec);

    /** Stops the sandbox's processes where they are; memory and files stay. */
    void pause(String sandboxId);

    /** Lets a paused sandbox run again. */
    void resume(String sandboxId);

    /**
     * Captures the sandbox so it can be restored later or used as a template.
     *
     * @throws UnsupportedRuntimeOperationException where the runtime cannot capture process state
     */
    SandboxSnapshot snapshot(String sandboxId);

    /** Ends the sandbox and removes everything the runtime made for it (files, mounts, network). */
    void kill(String sandboxId);

    /** Current usage, for the metrics endpoints. */
    SandboxStats stats(String sandboxId);

    /**
     * Removes what an earlier run of the daemon left on the host (containers, mounts, network namespaces,
     * firewall entries, directories) that no sandbox of this runtime instance owns. Called once at start-up,
     * before the first create.
     *
     * @return one line per removed item, for the log
     */
    List<String> reconcile();

    /** Kills every sandbox this runtime holds and stops its background work. */
    @Override
    void close();
}
