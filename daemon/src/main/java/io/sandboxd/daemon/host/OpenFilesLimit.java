package io.sandboxd.daemon.host;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The open-files limit a container started by this daemon may be given: 65536, or the daemon's own hard limit if that
 * is lower. Raising a hard limit needs CAP_SYS_RESOURCE, which runc has dropped by the time it sets limits, so a
 * higher value fails the start ("error setting rlimit type 7: operation not permitted").
 */
public final class OpenFilesLimit {
    public static final long WANTED = 65536;
    /** The kernel's default hard limit, always allowed. */
    private static final long KERNEL_DEFAULT = 4096;

    private OpenFilesLimit() {
    }

    public static long forContainers() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/limits"))) {
                if (line.startsWith("Max open files")) {
                    String[] f = line.substring("Max open files".length()).trim().split("\\s+");
                    return f[1].equals("unlimited") ? WANTED : Math.min(WANTED, Long.parseLong(f[1]));
                }
            }
        } catch (IOException | RuntimeException e) {
            // fall through to the limit every process may set
        }
        return KERNEL_DEFAULT;
    }
}
