package io.sandboxd.api.sandbox;

import java.time.Instant;

/** One resource sample of a sandbox. Python's client requires all nine wire fields, so none is optional. */
public record SandboxMetric(Instant timestamp, int cpuCount, double cpuUsedPct, long memUsed, long memTotal,
                            long memCache, long diskUsed, long diskTotal) {}
