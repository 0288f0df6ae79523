package io.sandboxd.vmm.memory;

import io.sandboxd.ffi.Libc;
import io.sandboxd.layer.ExtentIndex;
import io.sandboxd.vmm.snapshot.MemoryImage;
import java.lang.foreign.MemorySegment;

/**
 * A memory image's layers mapped read-only, resolved through the image's shared {@link ExtentIndex}: the page
 * server finds the bytes of a page with one binary search and no allocation, and a restore costs one mmap per
 * layer, not a pass over the extents.
 *
 * <p>Layers are mapped {@code MAP_SHARED, PROT_READ} and handed to UFFDIO_COPY as its source: the kernel copies
 * straight from the page cache, no bounce buffer. A read error of the file (an I/O error, or a file truncated
 * under us) then surfaces as EFAULT from UFFDIO_COPY, which the server treats as a failed page source.
 */
final class PageSource implements AutoCloseable {
    private final ExtentIndex index;
    /** Host address of each layer's mapping, by layer number. */
    private final long[] layerBase;
    private final MemorySegment[] mappings;

    private PageSource(ExtentIndex index, MemorySegment[] mappings) {
        this.index = index;
        this.mappings = mappings;
        this.layerBase = new long[mappings.length];
        for (int i = 0; i < mappings.length; i++) {
            layerBase[i] = mappings[i].address();
        }
    }

    static PageSource map(MemoryImage image) {
        ExtentIndex index = image.index();
        MemorySegment[] mappings = new MemorySegment[index.layerCount()];
        int done = 0;
        try {
            for (; done < mappings.length; done++) {
                int fd = Libc.open(image.layerPath(index.layerId(done)).toString(), Libc.O_RDONLY | Libc.O_CLOEXEC);
                try {
                    mappings[done] = Libc.mmap(MemorySegment.NULL, index.layerBytes(done), Libc.PROT_READ,
                            Libc.MAP_SHARED | Libc.MAP_NORESERVE, fd, 0);
                } finally {
                    Libc.close(fd); // the mapping keeps the file open
                }
            }
        } catch (RuntimeException e) {
            for (int i = 0; i < done; i++) {
                Libc.munmap(mappings[i]);
            }
            throw e;
        }
        return new PageSource(index, mappings);
    }

    /** Index of the extent holding image offset {@code offset} (which must be inside the image). */
    int find(long offset) {
        return index.find(offset);
    }

    /** Host address holding the bytes at {@code offset} of extent {@code extent}, or 0 when they are zero. */
    long address(int extent, long offset) {
        int layer = index.layer(extent);
        return layer < 0 ? 0 : layerBase[layer] + index.offsetInLayer(extent) + (offset - index.start(extent));
    }

    long extentEnd(int extent) {
        return index.end(extent);
    }

    @Override
    public void close() {
        for (MemorySegment m : mappings) {
            Libc.munmap(m);
        }
    }
}
