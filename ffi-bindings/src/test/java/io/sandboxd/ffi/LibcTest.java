package io.sandboxd.ffi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

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
}
