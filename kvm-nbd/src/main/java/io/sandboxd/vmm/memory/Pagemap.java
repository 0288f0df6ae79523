package io.sandboxd.vmm.memory;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

import io.sandboxd.ffi.Libc;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.BitSet;

/** Reads {@code /proc/self/pagemap} (one 64-bit entry per virtual page, see Documentation/admin-guide/mm/pagemap.rst). */
final class Pagemap {
    private static final long PRESENT = 1L << 63;
    private static final long FILE_OR_SHARED_ANON = 1L << 61;
    private static final long EXCLUSIVE = 1L << 56;
    private static final int CHUNK = 1 << 16;

    private Pagemap() {
    }

    /**
     * Pages of {@code range} backed by a private anonymous page mapped only here: in a {@code MAP_PRIVATE} file
     * mapping, exactly the pages written since it was mapped (unwritten ones are page-cache pages or the shared
     * zero page, neither of which is reported exclusive-anonymous).
     */
    static BitSet privatelyWrittenPages(MemorySegment range) {
        long pages = range.byteSize() >>> 12;
        BitSet out = new BitSet((int) pages);
        int fd = Libc.open("/proc/self/pagemap", Libc.O_RDONLY | Libc.O_CLOEXEC);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(8L * CHUNK);
            long first = range.address() >>> 12;
            for (long p = 0; p < pages; p += CHUNK) {
                long n = Math.min(CHUNK, pages - p);
                long got = Libc.pread(fd, buf.asSlice(0, 8 * n), 8 * (first + p));
                for (long i = 0; i < got / 8; i++) {
                    long e = buf.getAtIndex(JAVA_LONG, i);
                    if ((e & PRESENT) != 0 && (e & FILE_OR_SHARED_ANON) == 0 && (e & EXCLUSIVE) != 0) {
                        out.set((int) (p + i));
                    }
                }
            }
        } finally {
            Libc.close(fd);
        }
        return out;
    }
}
