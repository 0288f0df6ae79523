package io.sandboxd.daemon.runtime.jail;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A claimed jail's CPU weight, written straight into its cgroup ({@code runc update} would cost a process spawn on
 * the create path). Pooled jails run at {@link OciSpec#POOLED_CPU_SHARES}.
 */
final class CgroupCpu {
    private static final Path CGROUP = Path.of("/sys/fs/cgroup");

    private CgroupCpu() {
    }

    /**
     * Sets the jail's weight to {@code shares} (cgroup v1 {@code cpu.shares}; on a unified hierarchy the equivalent
     * {@code cpu.weight}, converted the way runc converts it). False when neither file exists (the caller falls back
     * to runc).
     */
    static boolean claim(String cgroupParent, String jailId, long shares) {
        Path v1 = CGROUP.resolve("cpu").resolve(cgroupParent).resolve(jailId).resolve("cpu.shares");
        Path v2 = CGROUP.resolve(cgroupParent).resolve(jailId).resolve("cpu.weight");
        try {
            if (Files.exists(v1)) {
                Files.writeString(v1, Long.toString(shares));
                return true;
            }
            if (Files.exists(v2)) {
                Files.writeString(v2, Long.toString(1 + ((shares - 2) * 9999) / 262142));
                return true;
            }
            return false;
        } catch (IOException e) {
            throw new java.io.UncheckedIOException("cannot set the CPU weight of jail " + jailId, e);
        }
    }
}
