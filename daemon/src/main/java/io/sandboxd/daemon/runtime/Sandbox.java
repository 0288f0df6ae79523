package io.sandboxd.daemon.runtime;

import java.net.InetSocketAddress;
import java.time.Instant;

/**
 * A running sandbox as a runtime hands it to the orchestrator.
 *
 * @param sandboxId   the ID from the spec
 * @param templateId  the template it was started from
 * @param buildId     the template build it was started from
 * @param runtimeId   the runtime's own name for it (the runc container ID for jails), for logs and reconciliation
 * @param envdAddress where envd listens: the sandbox's network slot address, port 49983
 * @param startedAt   when the create finished
 */
public record Sandbox(String sandboxId, String templateId, String buildId, String runtimeId,
                      InetSocketAddress envdAddress, Instant startedAt) {
    /** The port envd listens on inside every sandbox. */
    public static final int ENVD_PORT = io.sandboxd.daemon.envd.EnvdLaunch.PORT;
}
