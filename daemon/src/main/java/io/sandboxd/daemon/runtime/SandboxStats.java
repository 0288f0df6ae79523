package io.sandboxd.daemon.runtime;

import java.time.Instant;

/**
 * One sample of a sandbox's usage, the fields of the E2B {@code SandboxMetric}.
 *
 * @param timestamp  when the sample was taken
 * @param cpuCount   CPUs the sandbox may use
 * @param cpuUsedPct CPU used since the previous sample (or since start), in percent of {@code cpuCount} CPUs
 * @param memUsed    bytes of memory in use, page cache that can be dropped excluded
 * @param memTotal   the memory limit in bytes
 * @param diskUsed   bytes the sandbox's filesystem holds
 * @param diskTotal  bytes the sandbox's filesystem could hold
 */
public record SandboxStats(Instant timestamp, int cpuCount, double cpuUsedPct, long memUsed, long memTotal,
                           long diskUsed, long diskTotal) {
}
