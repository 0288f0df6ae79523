package io.sandboxd.ffi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Everything that can succeed runs on a throwaway thread in its own mount namespace with {@code /} made private:
 * the host never sees these mounts, even for a moment, and they vanish with the thread.
 */
class MountsTest {
    @Test
    void tmpfsMountsRemountsReadOnlyAndUnmounts(@TempDir Path dir) throws Exception {
        Privileges.assumeSysAdmin("mounting a tmpfs");
        String target = dir.toRealPath().toString();
        List<Object> seen = TestThreads.onFreshPlatformThread(() -> {
            privateMountNamespace();
            Mounts.mount("sandboxd-test", target, "tmpfs", Mounts.MS_NOSUID | Mounts.MS_NODEV, "size=1m,mode=0700");
            Optional<String> mounted = mountAt(target);
            Files.writeString(dir.resolve("inside"), "on tmpfs");

            Mounts.mount(null, target, null, Mounts.MS_REMOUNT | Mounts.MS_RDONLY | Mounts.MS_NOSUID | Mounts.MS_NODEV,
                    null);
            FileSystemException readOnly = assertThrows(FileSystemException.class,
                    () -> Files.writeString(dir.resolve("refused"), "x"));

            Mounts.umount2(target, 0);
            return List.of(mounted, readOnly.getMessage(), mountAt(target), Files.exists(dir.resolve("inside")));
        });
        assertEquals(Optional.of("tmpfs sandboxd-test"), seen.get(0));
        assertTrue(seen.get(1).toString().contains("Read-only file system"), seen.get(1).toString());
        assertEquals(Optional.empty(), seen.get(2), "umount2 removed it");
        assertEquals(false, seen.get(3), "the file lived on the tmpfs, not in the directory below it");
        assertEquals(Optional.empty(), mountAt(target), "the host's mount table never had it");
    }

    @Test
    void pivotRootSwapsTheRootOfAPrivateMountNamespace(@TempDir Path dir) throws Exception {
        Privileges.assumeSysAdmin("pivot_root");
        String newRoot = dir.toRealPath().toString();
        List<Object> seen = TestThreads.onFreshPlatformThread(() -> {
            privateMountNamespace();
            Mounts.mount("sandboxd-root", newRoot, "tmpfs", 0, "size=1m");
            Files.writeString(Path.of(newRoot, "marker"), "new root");
            Files.createDirectory(Path.of(newRoot, "old"));
            Mounts.pivotRoot(newRoot, newRoot + "/old");
            String marker = Files.readString(Path.of("/marker"));
            boolean oldRootBelow = Files.exists(Path.of("/old" + newRoot));
            Mounts.umount2("/old", Mounts.MNT_DETACH);
            return List.of(marker, oldRootBelow, Files.exists(Path.of("/old" + newRoot)));
        });
        assertEquals(List.of("new root", true, false), seen);
        assertEquals(List.of(), Arrays.asList(dir.toFile().list()), "nothing was written to the host's directory");
    }

    @Test
    void failuresNameTheCall(@TempDir Path dir) {
        Privileges.assumeSysAdmin("exact mount errnos (without it every call fails with EPERM)");
        NativeException e = assertThrows(NativeException.class,
                () -> Mounts.mount("none", dir.toString(), "sandboxd-no-such-fs", 0, null));
        assertEquals("mount", e.call());
        assertEquals(Errno.ENODEV, e.errno());
        assertTrue(e.getMessage().contains("sandboxd-no-such-fs none on " + dir), e.getMessage());

        e = assertThrows(NativeException.class, () -> Mounts.umount2(dir.toString(), 0));
        assertEquals("umount2", e.call());
        assertEquals(Errno.EINVAL, e.errno(), "not a mount point");

        // Only a path that cannot resolve on this thread: a pivot_root that succeeded here would swap the JVM's root.
        e = assertThrows(NativeException.class,
                () -> Mounts.pivotRoot("/sandboxd-nonexistent", "/sandboxd-nonexistent/old"));
        assertEquals("pivot_root", e.call());
        assertEquals(Errno.ENOENT, e.errno());
    }

    private static void privateMountNamespace() {
        Namespaces.unshare(Namespaces.CLONE_NEWNS);
        Mounts.mount(null, "/", null, Mounts.MS_REC | Mounts.MS_PRIVATE, null);
    }

    /** "fstype source" of the top mount at {@code target} in the calling thread's mount namespace. */
    private static Optional<String> mountAt(String target) throws Exception {
        return Files.readAllLines(Path.of("/proc/thread-self/mountinfo")).stream()
                .map(l -> l.split(" "))
                .filter(f -> f[4].equals(target))
                .map(f -> {
                    int sep = Arrays.asList(f).indexOf("-");
                    return f[sep + 1] + " " + f[sep + 2];
                })
                .reduce((first, last) -> last);
    }
}
