package io.sandboxd.daemon.runtime.jail;

import io.sandboxd.daemon.network.NetworkSlot;
import io.sandboxd.daemon.template.TemplateBuild;
import java.nio.file.Path;

/**
 * One jail: its directory {@code <data-dir>/sandboxes/<id>/} (the OCI bundle: {@code config.json}, the overlay's
 * {@code upper/}, {@code work/} and merged {@code rootfs/}, per-jail {@code /etc} files, {@code jail.log}), its
 * network slot and its runc container (same ID). A jail is made before any request needs it (in the pool) and
 * becomes a sandbox when a create claims it (a {@link JailSandbox} then holds it).
 *
 * <p>Mutable state is guarded by the jail's monitor; the runtime holds it while it changes the jail.
 */
final class Jail {
    static final String HOSTNAME = "sandbox";

    private final String id;
    private final Path dir;
    private final NetworkSlot slot;
    private final TemplateBuild template;

    private OciSpec.Limits limits;
    private long startedNanos;
    private long lastCpuNanos;
    private long lastSampleNanos;

    Jail(String id, Path dir, NetworkSlot slot, TemplateBuild template, OciSpec.Limits limits) {
        this.id = id;
        this.dir = dir;
        this.slot = slot;
        this.template = template;
        this.limits = limits;
    }

    String id() {
        return id;
    }

    Path dir() {
        return dir;
    }

    NetworkSlot slot() {
        return slot;
    }

    TemplateBuild template() {
        return template;
    }

    Path rootfs() {
        return dir.resolve("rootfs");
    }

    Path upper() {
        return dir.resolve("upper");
    }

    Path work() {
        return dir.resolve("work");
    }

    Path configJson() {
        return dir.resolve("config.json");
    }

    Path log() {
        return dir.resolve("jail.log");
    }

    Path resolvConf() {
        return dir.resolve("resolv.conf");
    }

    Path hosts() {
        return dir.resolve("hosts");
    }

    Path initPidFile() {
        return dir.resolve("init.pid");
    }

    /** Whether the container's first process still exists (an unstarted jail has none). */
    boolean initAlive() {
        try {
            String pid = java.nio.file.Files.readString(initPidFile()).strip();
            return java.nio.file.Files.exists(Path.of("/proc", pid, "status"))
                    && !java.nio.file.Files.readString(Path.of("/proc", pid, "status")).contains("State:\tZ");
        } catch (java.io.IOException e) {
            return false;
        }
    }

    synchronized void markStarted() {
        startedNanos = System.nanoTime();
    }

    synchronized OciSpec.Limits limits() {
        return limits;
    }

    synchronized void limits(OciSpec.Limits l) {
        limits = l;
    }

    /**
     * Records a CPU sample and returns the CPU time used since the previous one as a fraction of wall time
     * (1.0 = one CPU fully busy). The first sample averages over the time since the jail started.
     */
    synchronized double cpuSince(long cpuNanos, long nowNanos) {
        long prevCpu = lastSampleNanos == 0 ? 0 : lastCpuNanos;
        long wall = nowNanos - (lastSampleNanos == 0 ? startedNanos : lastSampleNanos);
        lastCpuNanos = cpuNanos;
        lastSampleNanos = nowNanos;
        return wall <= 0 ? 0 : Math.max(0, (double) (cpuNanos - prevCpu) / wall);
    }
}
