package io.sandboxd.daemon.orchestrator;

import io.sandboxd.daemon.store.SandboxRepository.Lifecycle;
import java.net.InetSocketAddress;

/**
 * What the proxy needs of a sandbox that exists in this process, kept in memory so routing never touches the store.
 *
 * @param trafficToken null when the sandbox allows public traffic
 */
record LiveSandbox(String sandboxId, String teamId, InetSocketAddress envdAddress, String trafficToken,
                   boolean autoResume, Lifecycle state) {
    LiveSandbox withState(Lifecycle next) {
        return new LiveSandbox(sandboxId, teamId, envdAddress, trafficToken, autoResume, next);
    }
}
