package io.sandboxd.api.proxy;

import java.net.InetSocketAddress;
import java.util.concurrent.CompletionStage;

/**
 * Port: where the proxy sends traffic for a sandbox's port. Called on a Netty event loop, so it must not block: it
 * answers from a routing table, or later (for example after auto-resuming a paused sandbox) by completing the stage.
 */
public interface SandboxRouter {
    CompletionStage<Resolution> resolve(String sandboxId, int port);

    /**
     * The sandbox was found running, but its {@code port} refused the connection or hung up without answering (the
     * client got a 502). For the metrics: on envd's port this means the sandbox's agent is not serving. Called on an
     * event loop; must not block.
     */
    default void unreachable(String sandboxId, int port) {
    }

    /** Where a sandbox is, or why traffic cannot reach it. */
    sealed interface Resolution {
        /**
         * The sandbox runs; connect to {@code target}.
         *
         * @param trafficToken the {@code e2b-traffic-access-token} required on non-envd ports, or null when the
         *                     sandbox allows public traffic
         */
        record Found(InetSocketAddress target, String trafficToken) implements Resolution {}

        /** No such sandbox (or it was killed): the SDK reads the 502 as "sandbox gone". */
        record NotFound() implements Resolution {}

        /** Paused, and not resumed on traffic (no autoResume). */
        record Paused() implements Resolution {}

        /** Being created, paused, resumed or killed right now: 409, try again. */
        record Transitioning() implements Resolution {}
    }
}
