package io.sandboxd.ffi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LibcTest {
    @Test
    void failedOpenNamesTheCallAndErrno() {
        NativeException e = assertThrows(NativeException.class,
                () -> Libc.open("/nonexistent/sandboxd", Libc.O_RDONLY));
        assertEquals("open", e.call());
        assertEquals(Errno.ENOENT, e.errno());
        assertEquals("ENOENT", e.errnoName());
        assertTrue(e.getMessage().contains("No such file or directory"), e.getMessage());
    }

    @Test
    void memfdRoundTripThroughMmap() {
        int fd = Libc.memfdCreate("libc-test", Libc.MFD_CLOEXEC);
        try {
            Libc.ftruncate(fd, 8192);
            MemorySegment m = Libc.mmap(MemorySegment.NULL, 8192, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED, fd, 0);
            try {
                m.set(ValueLayout.JAVA_LONG, 4096, 0x1122334455667788L);
                try (Arena a = Arena.ofConfined()) {
                    MemorySegment buf = a.allocate(8);
                    assertEquals(8, Libc.pread(fd, buf, 4096));
                    assertEquals(0x1122334455667788L, buf.get(ValueLayout.JAVA_LONG, 0));
                }
            } finally {
                Libc.munmap(m);
            }
        } finally {
            Libc.close(fd);
        }
    }

    @Test
    void rawVariantsReturnMinusErrno() {
        try (Arena a = Arena.ofConfined()) {
            assertEquals(-Errno.EBADF, Libc.readRaw(-1, a.allocate(8), 8));
            assertEquals(-Errno.EBADF, Libc.ioctlRaw(-1, 0, 0));
        }
    }

    @Test
    void errnoIsPerThread() throws Exception {
        Thread t = Thread.ofPlatform().start(() -> Libc.readRaw(-1, MemorySegment.NULL, 0));
        t.join();
        int fd = Libc.eventfd(0, Libc.EFD_CLOEXEC);
        Libc.close(fd);
        NativeException e = assertThrows(NativeException.class, () -> Libc.close(fd));
        assertEquals(Errno.EBADF, e.errno());
    }

    @Test
    void pipeCarriesBytesAndIsCloseOnExec() throws Exception {
        long before = OpenFds.count();
        int[] p = Libc.pipe2(Libc.O_CLOEXEC);
        try (Arena a = Arena.ofConfined()) {
            assertTrue(Files.readString(Path.of("/proc/self/fdinfo/" + p[1]))
                    .lines().anyMatch(l -> l.startsWith("flags:") && (Integer.parseInt(l.substring(6).trim(), 8)
                            & Libc.O_CLOEXEC) != 0), "pipe2 must honour O_CLOEXEC");
            assertEquals(3, Libc.write(p[1], a.allocateFrom(ValueLayout.JAVA_BYTE, (byte) 1, (byte) 2, (byte) 3)));
            MemorySegment buf = a.allocate(8);
            assertEquals(3, Libc.read(p[0], buf));
            assertEquals(3, buf.get(ValueLayout.JAVA_BYTE, 2));
        } finally {
            Libc.close(p[0]);
            Libc.close(p[1]);
        }
        assertEquals(before, OpenFds.count());
        NativeException e = assertThrows(NativeException.class, () -> Libc.pipe2(-1));
        assertEquals("pipe2", e.call());
        assertEquals(Errno.EINVAL, e.errno());
    }

    @Test
    void copyFileRangeCopiesBetweenOffsets(@TempDir Path dir) throws Exception {
        byte[] data = new byte[100_000];
        new Random(7).nextBytes(data);
        Path src = Files.write(dir.resolve("src"), data);
        Path dst = dir.resolve("dst");
        long before = OpenFds.count();
        int in = Libc.open(src.toString(), Libc.O_RDONLY | Libc.O_CLOEXEC);
        int out = Libc.open(dst.toString(), Libc.O_WRONLY | Libc.O_CREAT | Libc.O_CLOEXEC, 0600);
        try {
            long copied = 0;
            while (copied < 60_000) {
                long n = Libc.copyFileRange(in, 1000 + copied, out, 10 + copied, 60_000 - copied);
                assertTrue(n > 0, "copy_file_range made no progress at " + copied);
                copied += n;
            }
            assertEquals(0, Libc.copyFileRange(in, data.length, out, 0, 10), "nothing to copy past the end");
            NativeException e = assertThrows(NativeException.class, () -> Libc.copyFileRange(out, 0, in, 0, 10));
            assertEquals("copy_file_range", e.call());
            assertEquals(Errno.EBADF, e.errno());
        } finally {
            Libc.close(in);
            Libc.close(out);
        }
        assertEquals(before, OpenFds.count());
        byte[] got = Files.readAllBytes(dst);
        assertEquals(60_010, got.length);
        assertEquals(0, got[0]);
        assertTrue(Arrays.equals(data, 1000, 61_000, got, 10, 60_010), "copied bytes differ");
    }

    @Test
    void processVmReadvReadsOurOwnMemory() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment remote = a.allocate(4096);
            for (int i = 0; i < 4096; i += 8) {
                remote.set(ValueLayout.JAVA_LONG, i, 0x5a5a000000000000L | i);
            }
            MemorySegment into = a.allocate(4096);
            assertEquals(4096, Libc.processVmRead(Libc.getpid(), remote.address(), into));
            assertEquals(-1, into.mismatch(remote));

            NativeException e = assertThrows(NativeException.class,
                    () -> Libc.processVmRead(Libc.getpid(), 0, a.allocate(8)));
            assertEquals("process_vm_readv", e.call());
            assertEquals(Errno.EFAULT, e.errno());
        }
    }

    @Test
    void openatResolvesBelowItsDirectoryAndNoFollowStopsAtLinks(@TempDir Path dir) throws Exception {
        Files.createDirectory(dir.resolve("sub"));
        Files.writeString(dir.resolve("sub/f"), "x");
        Files.createSymbolicLink(dir.resolve("link"), dir.resolve("sub"));
        int top = Libc.open(dir.toString(), Libc.O_PATH | Libc.O_DIRECTORY | Libc.O_CLOEXEC);
        try {
            int sub = Libc.openat(top, "sub", Libc.O_PATH | Libc.O_DIRECTORY | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, 0);
            try {
                assertEquals("x", Files.readString(Path.of("/proc/self/fd/" + sub).resolve("f")));
            } finally {
                Libc.close(sub);
            }
            NativeException e = assertThrows(NativeException.class, () -> Libc.openat(top, "link",
                    Libc.O_PATH | Libc.O_DIRECTORY | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, 0));
            assertTrue(e.is(Errno.ENOTDIR) || e.is(Errno.ELOOP), e.getMessage());
            assertTrue(e.getMessage().contains("openat"), e.getMessage());
            int followed = Libc.openat(top, "link", Libc.O_PATH | Libc.O_DIRECTORY | Libc.O_CLOEXEC, 0);
            Libc.close(followed); // the control: without O_NOFOLLOW the link is followed
            assertTrue(assertThrows(NativeException.class, () -> Libc.openat(top, "nope", Libc.O_PATH, 0)).is(Errno.ENOENT));
        } finally {
            Libc.close(top);
        }
    }
}
