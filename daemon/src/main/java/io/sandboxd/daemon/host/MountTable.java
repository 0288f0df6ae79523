package io.sandboxd.daemon.host;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * The mounts of this process's mount namespace, read from {@code /proc/self/mountinfo}. Used to find mounts a
 * crashed run left under the data directory and to refuse deleting a directory that still has something
 * mounted inside it (a recursive delete through a bind mount would delete the mount's source).
 */
public final class MountTable {
    /** One mount: where it is and what filesystem type it has. */
    public record Mount(Path mountPoint, String fsType, String source) {
    }

    private MountTable() {
    }

    public static List<Mount> read() {
        return parse(readMountinfo());
    }

    /** Mounts at or below {@code dir}, deepest first (the order they can be unmounted in). */
    public static List<Mount> under(Path dir) {
        Path abs = dir.toAbsolutePath().normalize();
        return read().stream()
                .filter(m -> m.mountPoint().startsWith(abs))
                .sorted(Comparator.comparingInt((Mount m) -> m.mountPoint().getNameCount()).reversed())
                .toList();
    }

    public static boolean isMountPoint(Path dir) {
        Path abs = dir.toAbsolutePath().normalize();
        return read().stream().anyMatch(m -> m.mountPoint().equals(abs));
    }

    /**
     * Unmounts everything at or below {@code dir}, deepest first. Lazy ({@code umount -l}) so a busy mount does not
     * stop the clean-up of the rest; the kernel finishes it when the last user goes.
     */
    public static void unmountAllUnder(Path dir) {
        for (Mount m : under(dir)) {
            HostCommand.Result r = HostCommand.run(List.of("umount", "-l", m.mountPoint().toString()));
            if (!r.ok() && isMountPoint(m.mountPoint())) {
                throw new CommandFailedException(r);
            }
        }
    }

    static List<Mount> parse(String mountinfo) {
        List<Mount> out = new ArrayList<>();
        for (String line : mountinfo.split("\n")) {
            if (line.isBlank()) {
                continue;
            }
            // "36 35 98:0 /mnt1 /mnt/parent rw,noatime master:1 - ext3 /dev/root rw,errors=continue"
            String[] f = line.split(" ");
            int dash = -1;
            for (int i = 6; i < f.length; i++) {
                if (f[i].equals("-")) {
                    dash = i;
                    break;
                }
            }
            if (f.length < 5 || dash < 0 || dash + 2 >= f.length) {
                continue;
            }
            out.add(new Mount(Path.of(unescape(f[4])), f[dash + 1], unescape(f[dash + 2])));
        }
        return out;
    }

    /** mountinfo escapes space, tab, newline and backslash as three-digit octal. */
    private static String unescape(String s) {
        if (s.indexOf('\\') < 0) {
            return s;
        }
        StringBuilder b = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\\' && isOctal(s, i + 1)) {
                b.append((char) Integer.parseInt(s.substring(i + 1, i + 4), 8));
                i += 3;
            } else {
                b.append(c);
            }
        }
        return b.toString();
    }

    private static boolean isOctal(String s, int from) {
        if (from + 3 > s.length()) {
            return false;
        }
        for (int i = from; i < from + 3; i++) {
            char c = s.charAt(i);
            if (c < '0' || c > '7') {
                return false;
            }
        }
        return true;
    }

    private static String readMountinfo() {
        try {
            return Files.readString(Path.of("/proc/self/mountinfo"));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read /proc/self/mountinfo", e);
        }
    }
}
