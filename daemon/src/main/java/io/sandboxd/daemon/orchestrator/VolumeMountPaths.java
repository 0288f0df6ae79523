package io.sandboxd.daemon.orchestrator;

import io.sandboxd.api.sandbox.SandboxException;
import io.sandboxd.daemon.envd.EnvdLaunch;
import java.util.List;

/**
 * Where a volume may be mounted in a sandbox: an absolute, normalized path that is not the root, not in or above the
 * kernel's file systems ({@code /proc}, {@code /sys}, {@code /dev}) or the files the runtime mounts itself (DNS,
 * hosts, envd under {@code /opt/sandboxd}), and not in or above another mount of the same create.
 */
final class VolumeMountPaths {
    static final int MAX_MOUNTS = 16;
    static final int MAX_PATH = 1024;
    static final List<String> RESERVED = List.of("/proc", "/sys", "/dev", "/etc/resolv.conf", "/etc/hosts",
            parentOf(EnvdLaunch.JRE_PATH));

    private VolumeMountPaths() {
    }

    static void check(List<String> paths) {
        if (paths.size() > MAX_MOUNTS) {
            throw SandboxException.invalid("At most " + MAX_MOUNTS + " volume mounts per sandbox, got " + paths.size());
        }
        for (int i = 0; i < paths.size(); i++) {
            String p = paths.get(i);
            checkOne(p);
            for (int j = 0; j < i; j++) {
                if (overlaps(p, paths.get(j))) {
                    throw SandboxException.invalid("Volume mount paths '" + paths.get(j) + "' and '" + p
                            + "' overlap: one is the other or inside it");
                }
            }
        }
    }

    private static void checkOne(String p) {
        if (p.isEmpty() || p.charAt(0) != '/') {
            throw SandboxException.invalid("Volume mount path '" + p + "' must be absolute (start with '/')");
        }
        if (p.length() > MAX_PATH) {
            throw SandboxException.invalid("Volume mount paths are at most " + MAX_PATH + " characters");
        }
        if (p.equals("/")) {
            throw SandboxException.invalid("A volume cannot be mounted at '/' (the sandbox's root file system)");
        }
        for (int i = 0; i < p.length(); i++) {
            if (Character.isISOControl(p.charAt(i))) {
                throw SandboxException.invalid("Volume mount path '" + p.replaceAll("\\p{Cntrl}", "?")
                        + "' contains a control character");
            }
        }
        for (String c : p.substring(1).split("/", -1)) {
            if (c.isEmpty() || c.equals(".") || c.equals("..")) {
                throw SandboxException.invalid("Volume mount path '" + p + "' must be normalized: no empty, '.' or '..' "
                        + "parts and no trailing '/'");
            }
        }
        for (String r : RESERVED) {
            if (overlaps(p, r)) {
                throw SandboxException.invalid("A volume cannot be mounted at '" + p + "': it is in or above " + r
                        + ", which the sandbox needs for itself");
            }
        }
    }

    /** One is the other, or inside it. */
    static boolean overlaps(String a, String b) {
        return a.equals(b) || a.startsWith(b + "/") || b.startsWith(a + "/");
    }

    private static String parentOf(String path) {
        return path.substring(0, path.lastIndexOf('/'));
    }
}
