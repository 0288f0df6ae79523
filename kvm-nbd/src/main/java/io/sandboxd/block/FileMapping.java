package io.sandboxd.block;

import io.sandboxd.ffi.Libc;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;

/**
 * Read-only shared mappings of image files (the page cache itself), so reads copy or send straight from it with no
 * {@code pread} per request. Each mapping belongs to a shared {@link Arena} of the device that made it: closing the
 * arena unmaps it, and a reader still holding it then gets an exception instead of a fault on unmapped memory.
 */
public final class FileMapping {
    private FileMapping() {
    }

    /** The first {@code size} bytes of {@code file} mapped read-only in {@code arena}; NULL when {@code size} is 0. */
    public static MemorySegment readOnly(Path file, long size, Arena arena) {
        if (size == 0) {
            return MemorySegment.NULL;
        }
        int fd = Libc.open(file.toString(), Libc.O_RDONLY | Libc.O_CLOEXEC);
        MemorySegment m;
        try {
            m = Libc.mmap(MemorySegment.NULL, size, Libc.PROT_READ, Libc.MAP_SHARED, fd, 0);
        } finally {
            Libc.close(fd); // the mapping keeps the file open
        }
        long address = m.address();
        return m.reinterpret(size, arena, unused -> Libc.munmap(MemorySegment.ofAddress(address).reinterpret(size)));
    }
}
