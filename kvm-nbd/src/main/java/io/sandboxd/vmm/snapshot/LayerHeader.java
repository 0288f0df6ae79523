package io.sandboxd.vmm.snapshot;

import java.util.ArrayList;
import java.util.List;

/**
 * The map of one generation of a memory image: for every block of guest memory, which layer's data file holds it
 * (or that it is zero). The extents are sorted, block aligned and cover {@code [0, totalSize)} without gaps, so the
 * top header alone resolves any guest offset; {@code parentLayerId} only links the chain for tools.
 *
 * @param blockSize     granularity of the map (the guest page size, 4 KiB)
 * @param totalSize     guest memory size in bytes
 * @param generation    1 for a base image, parent's + 1 for a diff layer
 * @param layerId       this generation's layer (its data file is {@code <layerId>.layer})
 * @param parentLayerId the previous generation's layer, or {@link Extent#ZERO_LAYER} for a base image
 */
public record LayerHeader(int blockSize, long totalSize, long generation, long layerId, long parentLayerId,
                          List<Extent> extents) {
    public static final int MIN_BLOCK_SIZE = 4096;
    public static final int MAX_BLOCK_SIZE = 2 << 20;
    /** Caps what a reader accepts: 1 TiB of guest memory, 4M extents (a 128 MiB header). */
    public static final long MAX_TOTAL_SIZE = 1L << 40;
    public static final int MAX_EXTENTS = 4 << 20;

    public LayerHeader {
        extents = List.copyOf(extents);
        String problem = problem(blockSize, totalSize, generation, layerId, parentLayerId, extents);
        if (problem != null) {
            throw new IllegalArgumentException(problem);
        }
    }

    /** Why these values do not make a valid header, or null: shared by the constructor and the file reader. */
    static String problem(int blockSize, long totalSize, long generation, long layerId, long parentLayerId,
                          List<Extent> extents) {
        if (blockSize < MIN_BLOCK_SIZE || blockSize > MAX_BLOCK_SIZE || Integer.bitCount(blockSize) != 1) {
            return "block size " + blockSize + " is not a power of two in [" + MIN_BLOCK_SIZE + ", " + MAX_BLOCK_SIZE + "]";
        }
        if (totalSize <= 0 || totalSize > MAX_TOTAL_SIZE || totalSize % blockSize != 0) {
            return "size " + totalSize + " is not a positive multiple of the block size " + blockSize + " up to 1 TiB";
        }
        if (generation < 1) {
            return "generation " + generation + " < 1";
        }
        if (layerId == Extent.ZERO_LAYER) {
            return "layer id 0 is reserved for zero ranges";
        }
        if ((generation == 1) != (parentLayerId == Extent.ZERO_LAYER)) {
            return "generation " + generation + " with parent layer " + Long.toHexString(parentLayerId)
                    + " (a base image has no parent, a diff layer has one)";
        }
        if (extents.size() > MAX_EXTENTS) {
            return extents.size() + " ranges exceed the cap of " + MAX_EXTENTS;
        }
        long expect = 0;
        for (Extent e : extents) {
            if (e.offset() != expect) {
                return "range at " + e.offset() + " should start at " + expect + " (ranges must be sorted and leave no gaps)";
            }
            if (e.length() % blockSize != 0 || e.offsetInLayer() % blockSize != 0) {
                return "range at " + e.offset() + " is not aligned to the block size " + blockSize;
            }
            expect = e.end();
        }
        if (expect != totalSize) {
            return "ranges cover " + expect + " bytes of " + totalSize;
        }
        return null;
    }

    public long blockCount() {
        return totalSize / blockSize;
    }

    /** Index of the extent holding guest offset {@code offset}. */
    public int find(long offset) {
        if (offset < 0 || offset >= totalSize) {
            throw new IndexOutOfBoundsException("offset " + offset + " outside guest memory of " + totalSize + " bytes");
        }
        int lo = 0;
        int hi = extents.size() - 1;
        while (lo < hi) {
            int mid = (lo + hi + 1) >>> 1;
            if (extents.get(mid).offset() <= offset) {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        return lo;
    }

    /** Bytes of this generation's own data file that its extents refer to (the data file is at least this long). */
    public long bytesInLayer(long id) {
        long max = 0;
        for (Extent e : extents) {
            if (e.layerId() == id) {
                max = Math.max(max, e.offsetInLayer() + e.length());
            }
        }
        return max;
    }

    /** Joins neighbours that continue each other, so a header stays as small as the image's real fragmentation. */
    static List<Extent> coalesce(List<Extent> in) {
        List<Extent> out = new ArrayList<>(in.size());
        for (Extent e : in) {
            if (!out.isEmpty() && out.getLast().joins(e)) {
                Extent last = out.removeLast();
                out.add(new Extent(last.offset(), last.length() + e.length(), last.layerId(), last.offsetInLayer()));
            } else {
                out.add(e);
            }
        }
        return out;
    }
}
