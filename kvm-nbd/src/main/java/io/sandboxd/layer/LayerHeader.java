package io.sandboxd.layer;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * The map of one generation of a layered image, disk or memory: for every block of the image, which layer's data
 * file holds it (or that it is zero). The extents are sorted, block aligned and cover {@code [0, size)} without
 * gaps, so the top header alone resolves any offset (a chain is never walked layer by layer); the parent link only
 * identifies the chain. Encoded by {@link LayerHeaderCodec}.
 *
 * @param kind          disk or memory: a reader refuses the other kind
 * @param blockSize     granularity of the map (4 KiB for both today)
 * @param size          image size in bytes; only the last extent may end off a block boundary (a disk image of
 *                      odd size), a memory image is whole blocks
 * @param generation    1 for a base, parent's + 1 for a layer written over it (a seal or a memory diff)
 * @param layerId       this generation's own layer, random and never 0: with the generation it is the identity an
 *                      overlay or a restore records for the image it was made over
 * @param parentLayerId the previous generation's layer, or {@link Extent#ZERO_LAYER} for a base
 * @param layers        the data file of every layer the extents use (and of this generation's own layer), as a
 *                      path relative to the header's directory or absolute
 * @param extents       the runs, in order
 */
public record LayerHeader(LayerKind kind, int blockSize, long size, long generation, long layerId, long parentLayerId,
        SortedMap<Long, String> layers, List<Extent> extents) {
    public static final int MIN_BLOCK_SIZE = 512;
    public static final int MIN_MEMORY_BLOCK_SIZE = 4096;
    public static final int MAX_BLOCK_SIZE = 2 << 20;
    /** Caps what a reader accepts: 1 PiB images, 4 Mi extents (a 16 GiB image fragmented at every 4 KiB block). */
    public static final long MAX_SIZE = 1L << 50;
    public static final int MAX_EXTENTS = 4 << 20;
    public static final int MAX_LAYERS = 65_536;
    public static final int MAX_NAME = 4096;

    public LayerHeader {
        layers = Collections.unmodifiableSortedMap(new TreeMap<>(layers));
        extents = List.copyOf(extents);
        String problem = problem(kind, blockSize, size, generation, layerId, parentLayerId, layers, extents);
        if (problem != null) {
            throw new IllegalArgumentException(problem);
        }
    }

    /** A generation-1 header whose one layer, {@code fileName}, holds the whole image. */
    public static LayerHeader single(LayerKind kind, int blockSize, long size, long layerId, String fileName) {
        return new LayerHeader(kind, blockSize, size, 1, layerId, Extent.ZERO_LAYER, new TreeMap<>(Map.of(layerId,
                fileName)), size == 0 ? List.of() : List.of(new Extent(0, size, layerId, 0)));
    }

    /** Why these values do not make a valid header, or null: shared by the constructor and the file reader. */
    static String problem(LayerKind kind, int blockSize, long size, long generation, long layerId, long parentLayerId,
            Map<Long, String> layers, List<Extent> extents) {
        if (kind == null) {
            return "no kind";
        }
        int minBlock = kind == LayerKind.MEMORY ? MIN_MEMORY_BLOCK_SIZE : MIN_BLOCK_SIZE;
        if (blockSize < minBlock || blockSize > MAX_BLOCK_SIZE || Integer.bitCount(blockSize) != 1) {
            return "block size " + blockSize + " is not a power of two in [" + minBlock + ", " + MAX_BLOCK_SIZE + "]";
        }
        if (size < 0 || size > MAX_SIZE) {
            return "size " + size + " is outside [0, " + MAX_SIZE + "]";
        }
        if (kind == LayerKind.MEMORY && (size == 0 || size % blockSize != 0)) {
            return "memory of " + size + " bytes is not a positive multiple of the block size " + blockSize;
        }
        if (generation < 1) {
            return "generation " + generation + " < 1";
        }
        if (layerId == Extent.ZERO_LAYER) {
            return "layer id 0 is reserved for zero ranges";
        }
        if ((generation == 1) != (parentLayerId == Extent.ZERO_LAYER)) {
            return "generation " + generation + " with parent layer " + Long.toHexString(parentLayerId)
                    + " (a base has no parent, a layer over it has one)";
        }
        if (parentLayerId == layerId) {
            return "layer " + Long.toHexString(layerId) + " is its own parent";
        }
        if (layers.size() > MAX_LAYERS) {
            return layers.size() + " layers exceed the cap of " + MAX_LAYERS;
        }
        for (Map.Entry<Long, String> l : layers.entrySet()) {
            if (l.getKey() == Extent.ZERO_LAYER) {
                return "layer id 0 is reserved for zero ranges";
            }
            String n = l.getValue();
            if (n.isEmpty() || n.getBytes(StandardCharsets.UTF_8).length > MAX_NAME || n.indexOf('\0') >= 0) {
                return "layer " + Long.toHexString(l.getKey()) + " has a bad file name '" + n + "'";
            }
        }
        if (extents.size() > MAX_EXTENTS) {
            return extents.size() + " ranges exceed the cap of " + MAX_EXTENTS;
        }
        long expect = 0;
        for (Extent e : extents) {
            if (e.offset() != expect) {
                return "range at " + e.offset() + " should start at " + expect
                        + " (ranges must be sorted and leave no gaps)";
            }
            if ((e.length() % blockSize != 0 && e.end() != size) || e.offsetInLayer() % blockSize != 0) {
                return "range at " + e.offset() + " is not aligned to the block size " + blockSize;
            }
            if (!e.isZero() && !layers.containsKey(e.layerId())) {
                return "range at " + e.offset() + " names layer " + Long.toHexString(e.layerId())
                        + ", which the layer table does not list";
            }
            expect = e.end();
        }
        if (expect != size) {
            return "ranges cover " + expect + " bytes of " + size;
        }
        return null;
    }

    public long blockCount() {
        return (size + blockSize - 1) / blockSize;
    }

    /** The data file of layer {@code id}, for a header stored in {@code headerDirectory}. */
    public Path layerPath(Path headerDirectory, long id) {
        String name = layers.get(id);
        if (name == null) {
            throw new IllegalArgumentException("layer " + Long.toHexString(id) + " is not in this header");
        }
        return headerDirectory.resolve(name).normalize();
    }

    /** Index of the extent holding {@code offset}. */
    public int find(long offset) {
        if (offset < 0 || offset >= size) {
            throw new IndexOutOfBoundsException("offset " + offset + " outside an image of " + size + " bytes");
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

    /** Bytes of layer {@code id}'s data file that the extents refer to (the data file is at least this long). */
    public long bytesInLayer(long id) {
        long max = 0;
        for (Extent e : extents) {
            if (e.layerId() == id) {
                max = Math.max(max, e.offsetInLayer() + e.length());
            }
        }
        return max;
    }

    /** Appends {@code e} to {@code out}, joined with the last extent when it continues it. */
    public static void append(List<Extent> out, Extent e) {
        if (!out.isEmpty() && out.getLast().joins(e)) {
            Extent last = out.removeLast();
            out.add(new Extent(last.offset(), last.length() + e.length(), last.layerId(), last.offsetInLayer()));
        } else {
            out.add(e);
        }
    }

    /** Joins neighbours that continue each other, so a header stays as small as the image's real fragmentation. */
    public static List<Extent> coalesce(List<Extent> in) {
        List<Extent> out = new ArrayList<>(in.size());
        for (Extent e : in) {
            append(out, e);
        }
        return out;
    }
}
