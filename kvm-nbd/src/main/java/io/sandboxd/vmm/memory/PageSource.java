package io.sandboxd.vmm.memory;

import io.sandboxd.ffi.Libc;
import io.sandboxd.vmm.snapshot.Extent;
import io.sandboxd.vmm.snapshot.LayerHeader;
import io.sandboxd.vmm.snapshot.MemoryImage;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A memory image's layers mapped read-only, with the extent map flattened into arrays so the page server can find
 * the bytes of a page with one binary search and no allocation.
 *
 * <p>Layers are mapped {@code MAP_SHARED, PROT_READ} and handed to UFFDIO_COPY as its source: the kernel copies
 * straight from the page cache, no bounce buffer. A read error of the file (an I/O error, or a file truncated
 * under us) then surfaces as EFAULT from UFFDIO_COPY, which the server treats as a failed page source.
 */
final class PageSource implements AutoCloseable {
    private final long[] starts;
    private final long[] ends;
    /** Host address of the extent's first byte in its mapped layer, or 0 for a zero extent. */
    private final long[] addresses;
    private final List<MemorySegment> mappings;

    private PageSource(long[] starts, long[] ends, long[] addresses, List<MemorySegment> mappings) {
        this.starts = starts;
        this.ends = ends;
        this.addresses = addresses;
        this.mappings = mappings;
    }

    static PageSource map(MemoryImage image) {
        LayerHeader h = image.header();
        Map<Long, MemorySegment> byLayer = new HashMap<>();
        List<MemorySegment> mappings = new ArrayList<>();
        try {
            for (long id : image.layerIds()) {
                long length = h.bytesInLayer(id);
                int fd = Libc.open(image.layerPath(id).toString(), Libc.O_RDONLY | Libc.O_CLOEXEC);
                try {
                    MemorySegment m = Libc.mmap(MemorySegment.NULL, length, Libc.PROT_READ,
                            Libc.MAP_SHARED | Libc.MAP_NORESERVE, fd, 0);
                    mappings.add(m);
                    byLayer.put(id, m);
                } finally {
                    Libc.close(fd); // the mapping keeps the file open
                }
            }
        } catch (RuntimeException e) {
            mappings.forEach(Libc::munmap);
            throw e;
        }
        List<Extent> extents = h.extents();
        int n = extents.size();
        long[] starts = new long[n];
        long[] ends = new long[n];
        long[] addresses = new long[n];
        for (int i = 0; i < n; i++) {
            Extent e = extents.get(i);
            starts[i] = e.offset();
            ends[i] = e.end();
            addresses[i] = e.isZero() ? 0 : byLayer.get(e.layerId()).address() + e.offsetInLayer();
        }
        return new PageSource(starts, ends, addresses, mappings);
    }

    /** Index of the extent holding image offset {@code offset} (which must be inside the image). */
    int find(long offset) {
        int lo = 0;
        int hi = starts.length - 1;
        while (lo < hi) {
            int mid = (lo + hi + 1) >>> 1;
            if (starts[mid] <= offset) {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        return lo;
    }

    /** Host address holding the bytes at {@code offset} of extent {@code index}, or 0 when they are zero. */
    long address(int index, long offset) {
        long a = addresses[index];
        return a == 0 ? 0 : a + (offset - starts[index]);
    }

    long extentEnd(int index) {
        return ends[index];
    }

    @Override
    public void close() {
        mappings.forEach(Libc::munmap);
        mappings.clear();
    }
}
