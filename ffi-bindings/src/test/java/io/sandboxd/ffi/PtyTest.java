package io.sandboxd.ffi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class PtyTest {
    @BeforeAll
    static void loadBindings() {
        // Class initialisation opens nothing, but do it before any fd count so a lazily opened jar cannot skew one.
        Pty.openPty().close();
    }

    @Test
    void bytesWrittenToTheSlavePathArriveAtTheMaster() {
        long before = OpenFds.count();
        try (Pty.Pair pty = Pty.openPty()) {
            assertTrue(pty.slavePath().matches("/dev/pts/\\d+"), pty.slavePath());
            assertEquals("/dev/pts/" + Pty.ptyNumber(pty.masterFd()), pty.slavePath());
            // O_NOCTTY: a session-leader JVM must not acquire the test's pty as its controlling terminal.
            int slave = Libc.open(pty.slavePath(), Libc.O_RDWR | Libc.O_NOCTTY | Libc.O_CLOEXEC);
            try {
                write(slave, "hello\n");
                // The slave's line discipline turns \n into \r\n (ONLCR) on the way out: proof it went through a tty.
                assertEquals("hello\r\n", readAtLeast(pty.masterFd(), 7));
            } finally {
                Libc.close(slave);
            }
        }
        assertEquals(before, OpenFds.count());
    }

    @Test
    void masterInputReachesTheSlaveOpenedAsPeer() {
        long before = OpenFds.count();
        try (Pty.Pair pty = Pty.openPty()) {
            int slave = Pty.openPeer(pty.masterFd(), Libc.O_RDWR | Libc.O_NOCTTY | Libc.O_CLOEXEC);
            try {
                write(pty.masterFd(), "ls -l\n");
                assertEquals("ls -l\n", readAtLeast(slave, 6));
            } finally {
                Libc.close(slave);
            }
        }
        assertEquals(before, OpenFds.count());
    }

    @Test
    void windowSizeSetOnTheMasterIsSeenOnTheSlave() {
        try (Pty.Pair pty = Pty.openPty()) {
            Pty.setWindowSize(pty.masterFd(), new Pty.WindowSize(41, 132, 1056, 656));
            int slave = Libc.open(pty.slavePath(), Libc.O_RDWR | Libc.O_NOCTTY | Libc.O_CLOEXEC);
            try {
                assertEquals(new Pty.WindowSize(41, 132, 1056, 656), Pty.windowSize(slave));
                Pty.setWindowSize(slave, new Pty.WindowSize(65535, 80));
                assertEquals(new Pty.WindowSize(65535, 80, 0, 0), Pty.windowSize(pty.masterFd()));
            } finally {
                Libc.close(slave);
            }
        }
    }

    @Test
    void failuresNameTheCall() {
        NativeException e = assertThrows(NativeException.class, () -> Pty.grantpt(-1));
        assertEquals("grantpt", e.call());
        assertEquals(Errno.EBADF, e.errno());

        int notATty = Libc.eventfd(0, Libc.EFD_CLOEXEC);
        try {
            e = assertThrows(NativeException.class, () -> Pty.ptsname(notATty));
            assertEquals("ptsname_r", e.call());
            assertEquals(Errno.ENOTTY, e.errno());
            e = assertThrows(NativeException.class, () -> Pty.windowSize(notATty));
            assertEquals("ioctl(TIOCGWINSZ)", e.call());
            assertEquals(Errno.ENOTTY, e.errno());
        } finally {
            Libc.close(notATty);
        }
        assertThrows(IllegalArgumentException.class, () -> new Pty.WindowSize(70000, 80));
    }

    private static void write(int fd, String s) {
        try (Arena a = Arena.ofConfined()) {
            byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
            MemorySegment buf = a.allocate(bytes.length);
            buf.copyFrom(MemorySegment.ofArray(bytes));
            assertEquals(bytes.length, Libc.write(fd, buf));
        }
    }

    /** Reads until {@code n} bytes have arrived, failing (not hanging) if the tty goes quiet for 5 s. */
    private static String readAtLeast(int fd, int n) {
        StringBuilder out = new StringBuilder();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment pfd = a.allocate(Libc.POLLFD);
            MemorySegment buf = a.allocate(256);
            while (out.length() < n) {
                pfd.set(ValueLayout.JAVA_INT, 0, fd);
                pfd.set(ValueLayout.JAVA_SHORT, 4, Libc.POLLIN);
                int ready = Libc.pollRaw(pfd, 1, 5000);
                assertTrue(ready == 1, "nothing to read after 5 s; got so far: " + out);
                long got = Libc.read(fd, buf);
                out.append(new String(buf.asSlice(0, got).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8));
            }
        }
        return out.toString();
    }
}
