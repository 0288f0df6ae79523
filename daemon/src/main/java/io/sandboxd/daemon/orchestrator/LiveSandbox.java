package io.sandboxd.daemon.orchestrator;

import io.sandboxd.daemon.runtime.RunningSandbox;
import io.sandboxd.daemon.store.SandboxRepository.Lifecycle;

/**
 * A sandbox this process runs: its runtime handle and what the proxy needs, kept in memory so routing never touches
 * the store. Immutable; {@link SandboxTable} replaces it on every transition.
 *
 * @param trafficToken null when the sandbox allows public traffic
 */
record LiveSandbox(String sandboxId, String teamId, RunningSandbox handle, String trafficToken, boolean autoResume,
                   Lifecycle state) {
    LiveSandbox withState(Lifecycle next) {
        return new LiveSandbox(sandboxId, teamId, handle, trafficToken, autoResume, next);
    }
}
