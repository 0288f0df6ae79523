package io.sandboxd.daemon.runtime;

import java.util.List;
import java.util.function.Consumer;

/**
 * The port between the orchestrator and a place where sandboxes run. Two adapters that know nothing of each other:
 * {@code vm} (KVM microVMs restored from snapshots) and {@code jail} (runc containers on an overlayfs). A runtime
 * prepares templates and starts sandboxes; what it starts is handed back as a {@link RunningSandbox}, which the
 * orchestrator owns from then on: a runtime keeps no table of sandboxes by ID, only what it needs to clean up its
 * host resources. Failures surface as {@link SandboxRuntimeException}s: {@link TemplateNotPreparedException} for an
 * unknown template, {@link CapacityException} when there is no room now, others when the host failed, each with a
 * message that names the tool and what it said.
 *
 * <p>Implementations are thread-safe; creates run concurrently.
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

    /**
     * Starts a sandbox; when this returns its envd answers at {@link RunningSandbox#envdAddress()}.
     *
     * @throws TemplateNotPreparedException if the spec's template was not prepared
     * @throws CapacityException            if no sandbox could be had within the runtime's wait
     */
    RunningSandbox create(SandboxSpec spec);

    /**
     * Takes over a sandbox an earlier run of the daemon started and left running or paused (it was killed, or it
     * crashed): finds what the runtime recorded for {@code sandboxId} on the host, checks its processes still exist,
     * claims its network slot again and gives it {@code policy} (the firewall is rebuilt at start-up). Call it at
     * start-up, before {@link #reconcile()}, which removes what was not adopted.
     *
     * @throws NotAdoptableException when nothing usable of the sandbox is left; what is left is then reconcile's
     */
    AdoptedSandbox adopt(String sandboxId, io.sandboxd.daemon.network.EgressPolicy policy);

    /**
     * Removes what an earlier run of the daemon left on the host (containers, mounts, network namespaces,
     * firewall entries, directories) that this runtime instance does not own
     * (pooled jails, and sandboxes nobody {@link #adopt adopted}). Called once at start-up, before the
     * first create.
     *
     * @return one line per removed item, for the log
     */
    List<String> reconcile();

    /** The warm pools this runtime keeps, one per prepared template; empty for a runtime that pools nothing. */
    default List<PoolLevel> poolLevels() {
        return List.of();
    }

    /** Starts of pooled sandboxes that failed since this runtime started (each is retried and logged). */
    default long poolStartFailures() {
        return 0;
    }

    /**
     * Stops background work and removes everything this runtime still holds: pooled sandboxes, and any handed-out
     * sandbox the orchestrator did not kill first.
     */
    @Override
    void close();

    /**
     * Whether sandboxes left in place by {@link #closeLeavingSandboxes()} are taken over again by the next start of
     * the daemon (so {@code serve --on-shutdown pause|keep} loses nothing). A runtime whose {@link #reconcile()}
     * removes every sandbox of an earlier run answers false, and serve refuses those policies for it.
     */
    default boolean adoptsSandboxesAtStart() {
        return false;
    }

    /**
     * Like {@link #close()}, but the sandboxes handed out and not killed stay as they are (running or paused) for the
     * next start to adopt; pooled sandboxes and the runtime's own background work are still removed.
     *
     * @throws UnsupportedRuntimeOperationException unless {@link #adoptsSandboxesAtStart()}
     */
    default void closeLeavingSandboxes() {
        throw new UnsupportedRuntimeOperationException(name(), "leaving sandboxes at shutdown",
                "the next start would remove them instead of adopting them");
    }
}
