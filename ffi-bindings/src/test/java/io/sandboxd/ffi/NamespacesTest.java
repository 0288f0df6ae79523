package io.sandboxd.ffi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class NamespacesTest {
    @Test
    void unshareAndSetnsMoveOnlyTheCallingThread() throws Exception {
        Privileges.assumeSysAdmin("unshare(CLONE_NEWNET)");
        String ours = netns();
        long before = OpenFds.count();
        List<String> seen = TestThreads.onFreshPlatformThread(() -> {
            String original = netns();
            int home = Libc.open("/proc/thread-self/ns/net", Libc.O_RDONLY | Libc.O_CLOEXEC);
            try {
                Namespaces.unshare(Namespaces.CLONE_NEWNET);
                String inside = netns();
                Namespaces.setns(home, Namespaces.CLONE_NEWNET);
                return List.of(original, inside, netns());
            } finally {
                Libc.close(home);
            }
        });
        assertEquals(ours, seen.get(0));
        assertNotEquals(ours, seen.get(1), "unshare(CLONE_NEWNET) gives the thread a new network namespace");
        assertEquals(ours, seen.get(2), "setns brings it back");
        assertEquals(ours, netns(), "other threads never moved");
        assertEquals(before, OpenFds.count());
    }

    @Test
    void failuresNameTheCall() throws Exception {
        NativeException e = assertThrows(NativeException.class, () -> Namespaces.unshare(0x1));
        assertEquals("unshare", e.call());
        assertEquals(Errno.EINVAL, e.errno());
        // A user namespace needs a single-threaded process. On a throwaway thread all the same: if the kernel
        // ever allowed it, only that thread would have moved.
        NativeException userns = TestThreads.onFreshPlatformThread(
                () -> assertThrows(NativeException.class, () -> Namespaces.unshare(Namespaces.CLONE_NEWUSER)));
        assertEquals(Errno.EINVAL, userns.errno());

        e = assertThrows(NativeException.class, () -> Namespaces.setns(-1, Namespaces.CLONE_NEWNET));
        assertEquals("setns", e.call());
        assertEquals(Errno.EBADF, e.errno());
        int notANamespace = Libc.eventfd(0, Libc.EFD_CLOEXEC);
        try {
            e = assertThrows(NativeException.class, () -> Namespaces.setns(notANamespace, 0));
            assertEquals(Errno.EINVAL, e.errno());
            assertTrue(e.getMessage().startsWith("setns failed: EINVAL"), e.getMessage());
        } finally {
            Libc.close(notANamespace);
        }

        AtomicReference<Throwable> fromVirtual = new AtomicReference<>();
        Thread.ofVirtual().start(() -> {
            try {
                Namespaces.unshare(Namespaces.CLONE_NEWNET);
            } catch (Throwable t) {
                fromVirtual.set(t);
            }
        }).join();
        assertTrue(fromVirtual.get() instanceof IllegalStateException, String.valueOf(fromVirtual.get()));
    }

    @Test
    void aThreadCanHaveItsOwnMountNamespace() throws Exception {
        Privileges.assumeSysAdmin("unshare(CLONE_NEWNS)");
        String ours = Files.readSymbolicLink(Path.of("/proc/thread-self/ns/mnt")).toString();
        String inside = TestThreads.onFreshPlatformThread(() -> {
            Namespaces.unshare(Namespaces.CLONE_NEWNS);
            return Files.readSymbolicLink(Path.of("/proc/thread-self/ns/mnt")).toString();
        });
        assertNotEquals(ours, inside);
        assertEquals(ours, Files.readSymbolicLink(Path.of("/proc/thread-self/ns/mnt")).toString());
    }

    private static String netns() throws Exception {
        return Files.readSymbolicLink(Path.of("/proc/thread-self/ns/net")).toString();
    }
}
