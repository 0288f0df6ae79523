package io.sandboxd.ffi;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SocketsTest {
    @BeforeAll
    static void loadBindings() {
        for (int fd : Sockets.socketpair(Sockets.AF_UNIX, Sockets.SOCK_STREAM | Sockets.SOCK_CLOEXEC, 0)) {
            Libc.close(fd);
        }
    }

    @Test
    void anFdPassedOverASocketpairArrivesAndIsUsable() throws Exception {
        long before = OpenFds.count();
        int memfd = Libc.memfdCreate("scm-rights", Libc.MFD_CLOEXEC);
        int[] pair = Sockets.socketpair(Sockets.AF_UNIX, Sockets.SOCK_STREAM | Sockets.SOCK_CLOEXEC, 0);
        try (Arena a = Arena.ofConfined()) {
            Libc.pwrite(memfd, a.allocateFrom("written before sending"), 0);
            assertEquals(1, Sockets.sendFds(pair[0], a.allocateFrom(ValueLayout.JAVA_BYTE, (byte) 'x'), memfd));

            MemorySegment buf = a.allocate(16);
            Sockets.Received got = Sockets.receiveFds(pair[1], buf, 4);
            assertEquals(1, got.bytes());
            assertEquals('x', buf.get(ValueLayout.JAVA_BYTE, 0));
            assertFalse(got.truncated());
            assertEquals(1, got.fds().length);
            int received = got.fds()[0];
            try {
                assertNotEquals(memfd, received, "the receiver gets a new descriptor");
                assertEquals(Files.readSymbolicLink(Path.of("/proc/self/fd/" + memfd)),
                        Files.readSymbolicLink(Path.of("/proc/self/fd/" + received)), "same open file");
                assertTrue(isCloseOnExec(received), "MSG_CMSG_CLOEXEC must mark received fds close-on-exec");

                MemorySegment text = a.allocate(22);
                Libc.pread(received, text, 0);
                assertEquals("written before sending", new String(text.toArray(ValueLayout.JAVA_BYTE)));
                Libc.pwrite(received, a.allocateFrom("after"), 100);
                MemorySegment back = a.allocate(5);
                Libc.pread(memfd, back, 100);
                assertEquals("after", new String(back.toArray(ValueLayout.JAVA_BYTE)));
            } finally {
                Libc.close(received);
            }
        } finally {
            Libc.close(pair[0]);
            Libc.close(pair[1]);
            Libc.close(memfd);
        }
        assertEquals(before, OpenFds.count());
    }

    @Test
    void threeFdsInOneMessageThroughAListeningUnixSocket(@TempDir Path dir) {
        long before = OpenFds.count();
        String path = dir.resolve("fds.sock").toString();
        int listener = Sockets.socket(Sockets.AF_UNIX, Sockets.SOCK_STREAM | Sockets.SOCK_CLOEXEC, 0);
        int client = Sockets.socket(Sockets.AF_UNIX, Sockets.SOCK_STREAM | Sockets.SOCK_CLOEXEC, 0);
        int[] events = {Libc.eventfd(0, Libc.EFD_CLOEXEC), Libc.eventfd(0, Libc.EFD_CLOEXEC),
                Libc.eventfd(0, Libc.EFD_CLOEXEC)};
        int server = -1;
        int[] received = new int[0];
        try (Arena a = Arena.ofConfined()) {
            Sockets.bind(listener, Sockets.unixAddress(a, path));
            Sockets.listen(listener, 1);
            Sockets.connect(client, Sockets.unixAddress(a, path));
            server = Sockets.accept4(listener, Sockets.SOCK_CLOEXEC);

            Sockets.sendFds(client, a.allocateFrom("three"), events);
            MemorySegment buf = a.allocate(5);
            Sockets.Received got = Sockets.receiveFds(server, buf, 3);
            received = got.fds();
            assertEquals(5, got.bytes());
            assertEquals(3, received.length);
            assertFalse(got.truncated());
            // Each received eventfd is the sender's: a count added through it is read from the original.
            for (int i = 0; i < 3; i++) {
                Libc.write(received[i], a.allocateFrom(ValueLayout.JAVA_LONG, 10L + i));
                MemorySegment count = a.allocate(ValueLayout.JAVA_LONG);
                Libc.read(events[i], count);
                assertEquals(10L + i, count.get(ValueLayout.JAVA_LONG, 0));
            }
        } finally {
            for (int fd : received) {
                Libc.close(fd);
            }
            for (int fd : events) {
                Libc.close(fd);
            }
            if (server >= 0) {
                Libc.close(server);
            }
            Libc.close(client);
            Libc.close(listener);
        }
        assertEquals(before, OpenFds.count());
    }

    @Test
    void fdsThatDoNotFitAreReportedAsTruncatedAndNotLeaked() {
        long before = OpenFds.count();
        int[] pair = Sockets.socketpair(Sockets.AF_UNIX, Sockets.SOCK_DGRAM | Sockets.SOCK_CLOEXEC, 0);
        int[] pipe = Libc.pipe2(Libc.O_CLOEXEC);
        try (Arena a = Arena.ofConfined()) {
            Sockets.sendFds(pair[0], a.allocateFrom(ValueLayout.JAVA_BYTE, (byte) 1), pipe[0], pipe[1], pipe[0]);
            Sockets.Received got = Sockets.receiveFds(pair[1], a.allocate(1), 1);
            assertTrue(got.truncated());
            assertEquals(1, got.fds().length, "the kernel installs what fits and closes the rest");
            Libc.close(got.fds()[0]);
        } finally {
            Libc.close(pipe[0]);
            Libc.close(pipe[1]);
            Libc.close(pair[0]);
            Libc.close(pair[1]);
        }
        assertEquals(before, OpenFds.count());
    }

    @Test
    void failuresNameTheCall(@TempDir Path dir) {
        try (Arena a = Arena.ofConfined()) {
            int s = Sockets.socket(Sockets.AF_UNIX, Sockets.SOCK_STREAM | Sockets.SOCK_CLOEXEC | Sockets.SOCK_NONBLOCK, 0);
            try {
                NativeException e = assertThrows(NativeException.class,
                        () -> Sockets.bind(s, Sockets.unixAddress(a, dir.resolve("no/such/dir.sock").toString())));
                assertEquals("bind", e.call());
                assertEquals(Errno.ENOENT, e.errno());
                assertTrue(e.getMessage().endsWith("no/such/dir.sock"), e.getMessage());

                e = assertThrows(NativeException.class,
                        () -> Sockets.connect(s, Sockets.unixAddress(a, dir.resolve("nobody.sock").toString())));
                assertEquals("connect", e.call());
                assertEquals(Errno.ENOENT, e.errno());
            } finally {
                Libc.close(s);
            }
            int[] pair = Sockets.socketpair(Sockets.AF_UNIX, Sockets.SOCK_STREAM | Sockets.SOCK_CLOEXEC | Sockets.SOCK_NONBLOCK, 0);
            try {
                NativeException e = assertThrows(NativeException.class,
                        () -> Sockets.receiveFds(pair[1], a.allocate(8), 1));
                assertEquals("recvmsg", e.call());
                assertEquals(Errno.EAGAIN, e.errno());
                assertEquals(-Errno.EAGAIN, Sockets.recvmsgRaw(pair[1], a.allocate(Sockets.MSGHDR), 0));
            } finally {
                Libc.close(pair[0]);
                Libc.close(pair[1]);
            }
            NativeException e = assertThrows(NativeException.class,
                    () -> Sockets.sendFds(-1, a.allocate(1), 0));
            assertEquals("sendmsg", e.call());
            assertEquals(Errno.EBADF, e.errno());
            e = assertThrows(NativeException.class, () -> Sockets.socket(-1, Sockets.SOCK_STREAM, 0));
            assertEquals("socket", e.call());

            assertThrows(IllegalArgumentException.class, () -> Sockets.unixAddress(a, "x".repeat(108)));
            assertThrows(IllegalArgumentException.class, () -> Sockets.sendFds(0, a.allocate(0), 1));
            assertThrows(IllegalArgumentException.class, () -> Sockets.sendFds(0, a.allocate(1)));
            assertThrows(IllegalArgumentException.class, () -> Sockets.receiveFds(0, a.allocate(1), 0));
        }
    }

    @Test
    void cmsgArithmeticMatchesTheMacrosAtOtherSizes() {
        // Pinned against the headers at a few sizes by SocketsHeadersTest; here the shape of the rule itself.
        assertEquals(16, Sockets.CMSG_DATA_OFFSET);
        for (int n = 0; n < 64; n++) {
            assertEquals(0, Sockets.cmsgSpace(n) % 8);
            assertTrue(Sockets.cmsgSpace(n) >= Sockets.cmsgLen(n));
            assertTrue(Sockets.cmsgSpace(n) - Sockets.cmsgLen(n) < 8);
        }
        assertArrayEquals(new long[] {16, 20, 24}, new long[] {Sockets.cmsgLen(0), Sockets.cmsgLen(4), Sockets.cmsgSpace(4)});
    }

    private static boolean isCloseOnExec(int fd) throws Exception {
        return Files.readString(Path.of("/proc/self/fdinfo/" + fd)).lines()
                .filter(l -> l.startsWith("flags:"))
                .anyMatch(l -> (Integer.parseInt(l.substring(6).trim(), 8) & Libc.O_CLOEXEC) != 0);
    }
}
