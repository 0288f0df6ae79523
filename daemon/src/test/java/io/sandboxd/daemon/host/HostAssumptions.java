package io.sandboxd.daemon.host;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** Skips tests (with the reason printed) on hosts that cannot run jails: not root, or a Debian tool missing. */
public final class HostAssumptions {
    private HostAssumptions() {
    }

    public static void assumeRoot() {
        boolean root;
        try {
            root = Files.readAllLines(Path.of("/proc/self/status")).stream().filter(l -> l.startsWith("Uid:"))
                    .map(l -> l.split("\\s+")).anyMatch(f -> f.length > 2 && f[2].equals("0"));
        } catch (IOException e) {
            root = false;
        }
        assume(root, "needs root (namespaces, mounts, cgroups, nftables)");
    }

    /** root plus the tools the jail runtime drives. */
    public static void assumeJailHost() {
        assumeRoot();
        assumeTool("runc", "runc");
        assumeTool("ip", "iproute2");
        assumeTool("nft", "nftables");
        assumeTool("busybox", "busybox-static");
        assumeTool("curl", "curl");
    }

    public static void assumeNetworkHost() {
        assumeRoot();
        assumeTool("ip", "iproute2");
        assumeTool("nft", "nftables");
        assumeTool("busybox", "busybox-static");
        assumeTool("curl", "curl");
    }

    public static void assumeTool(String tool, String debianPackage) {
        boolean present = HostCommand.run(List.of("sh", "-c", "command -v " + tool)).ok();
        assume(present, "needs " + tool + " (apt-get install -y " + debianPackage + ")");
    }

    private static void assume(boolean ok, String reason) {
        if (!ok) {
            System.err.println("SKIPPED: " + reason);
        }
        assumeTrue(ok, reason);
    }
}
