package io.sandboxd.ffi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Each test makes its taps on a throwaway thread inside a network namespace of its own (unshare(CLONE_NEWNET) is
 * per thread): the host's interfaces are never touched and anything left over dies with the namespace.
 */
class TunTest {
    @BeforeEach
    void needsTunAndNetAdmin() {
        Privileges.assume(Files.exists(Path.of(Tun.DEVICE)), Tun.DEVICE + " is missing (modprobe tun)");
        Privileges.assumeNetAdmin("creating a tap");
        Privileges.assumeSysAdmin("a private network namespace for the test's taps");
    }

    @Test
    void openTapGetsAKernelChosenNameAndTheInterfaceGoesWithTheFd() throws Exception {
        long before = OpenFds.count();
        List<Object> seen = TestThreads.onFreshPlatformThread(() -> {
            Namespaces.unshare(Namespaces.CLONE_NEWNET);
            String name;
            int flags;
            boolean listed;
            try (Tun.Device tap = Tun.openTap("sbxtest%d")) {
                name = tap.name();
                flags = tap.flags();
                tap.setVnetHeaderSize(12);
                tap.setOffload(Tun.TUN_F_CSUM | Tun.TUN_F_TSO4 | Tun.TUN_F_TSO6);
                listed = interfacesHere().contains(name);
            }
            return List.of(name, flags, listed, interfacesHere().contains(name));
        });
        String name = (String) seen.get(0);
        assertTrue(Pattern.matches("sbxtest\\d+", name), name);
        int flags = (int) seen.get(1);
        int want = Tun.IFF_TAP | Tun.IFF_NO_PI | Tun.IFF_VNET_HDR;
        assertEquals(want, flags & want, "TUNGETIFF flags 0x" + Integer.toHexString(flags));
        assertEquals(0, flags & Tun.IFF_TUN);
        assertEquals(true, seen.get(2), "the tap is an interface of the namespace while open");
        assertEquals(false, seen.get(3), "a non-persistent tap goes away with its fd");
        assertFalse(Files.exists(Path.of("/sys/class/net", name)), "never in the host's namespace");
        assertEquals(before, OpenFds.count());
    }

    @Test
    void aPersistentTapOutlivesItsFdAndCanBeReattached() throws Exception {
        long before = OpenFds.count();
        List<Boolean> seen = TestThreads.onFreshPlatformThread(() -> {
            Namespaces.unshare(Namespaces.CLONE_NEWNET);
            try (Tun.Device tap = Tun.open("sbxpersist", Tun.IFF_TAP | Tun.IFF_NO_PI, false)) {
                tap.setPersistent(true);
            }
            boolean survived = interfacesHere().contains("sbxpersist");
            try (Tun.Device again = Tun.open("sbxpersist", Tun.IFF_TAP | Tun.IFF_NO_PI, false)) {
                again.setPersistent(false);
            }
            return List.of(survived, interfacesHere().contains("sbxpersist"));
        });
        assertEquals(List.of(true, false), seen);
        assertEquals(before, OpenFds.count());
    }

    @Test
    void badRequestsFailClearlyAndLeakNoFd() throws Exception {
        long before = OpenFds.count();
        NativeException e = TestThreads.onFreshPlatformThread(() -> {
            Namespaces.unshare(Namespaces.CLONE_NEWNET);
            return assertThrows(NativeException.class, () -> Tun.open("sbxbad", 0, false));
        });
        assertEquals("ioctl(TUNSETIFF)", e.call());
        assertEquals(Errno.EINVAL, e.errno());
        assertThrows(IllegalArgumentException.class, () -> Tun.openTap("a-name-of-16-byt"));
        assertThrows(IllegalArgumentException.class, () -> Tun.openTap(""));
        assertEquals(before, OpenFds.count());

        Tun.Device closed = TestThreads.onFreshPlatformThread(() -> {
            Namespaces.unshare(Namespaces.CLONE_NEWNET);
            Tun.Device tap = Tun.openTap("sbxclosed");
            tap.close();
            tap.close();
            return tap;
        });
        assertThrows(IllegalStateException.class, closed::fd);
        assertThrows(IllegalStateException.class, closed::flags);
    }

    /** Interface names in the calling thread's network namespace. */
    private static List<String> interfacesHere() throws Exception {
        return Files.readAllLines(Path.of("/proc/thread-self/net/dev")).stream()
                .filter(l -> l.contains(":"))
                .map(l -> l.substring(0, l.indexOf(':')).strip())
                .toList();
    }
}
