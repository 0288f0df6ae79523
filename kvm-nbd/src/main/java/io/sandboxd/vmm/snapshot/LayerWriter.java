package io.sandboxd.vmm.snapshot;

import io.sandboxd.layer.Extent;
import io.sandboxd.layer.LayerHeader;
import io.sandboxd.layer.LayerHeaderCodec;
import io.sandboxd.layer.LayerIds;
import io.sandboxd.layer.LayerKind;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.TreeMap;

/**
 * Writes memory images: a base layer from a whole guest memory, or a diff layer holding only the blocks a guest
 * wrote (a dirty bitmap with one bit per block) over a parent image. All-zero blocks are never stored: they
 * become zero ranges. Data is fsynced before the header that points at it is (atomically) put in place.
 */
public final class LayerWriter {
    private static final MemorySegment ZEROS = MemorySegment.ofArray(new byte[LayerHeader.MAX_BLOCK_SIZE]);

    private LayerWriter() {
    }

    /** Writes {@code memory} as a generation-1 image in {@code dir} (created if needed). */
    public static MemoryImage writeBase(Path dir, MemorySegment memory, int blockSize) throws IOException {
        long size = memory.byteSize();
        Files.createDirectories(dir);
        long id = newLayerId(dir);
        List<Extent> extents = new ArrayList<>();
        Path data = dir.resolve(MemoryImage.hex(id) + ".layer");
        try (FileChannel ch = FileChannel.open(data, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            long block = 0;
            long blocks = size / blockSize;
            checkSize(size, blockSize);
            while (block < blocks) {
                boolean zero = isZero(memory, block, blockSize);
                long end = block + 1;
                while (end < blocks && isZero(memory, end, blockSize) == zero) {
                    end++;
                }
                long off = block * blockSize;
                long len = (end - block) * blockSize;
                if (zero) {
                    extents.add(Extent.zero(off, len));
                } else {
                    writeFully(ch, memory.asSlice(off, len), off);
                    extents.add(new Extent(off, len, id, off));
                }
                block = end;
            }
            ch.truncate(size); // no-op when the last block had data; a sparse tail otherwise
            if (ch.size() < size) {
                writeFully(ch, MemorySegment.ofArray(new byte[1]), size - 1);
            }
            ch.force(true);
        }
        LayerHeader h = new LayerHeader(LayerKind.MEMORY, blockSize, size, 1, id, Extent.ZERO_LAYER, ownLayer(id),
                extents);
        LayerHeaderCodec.write(MemoryImage.headerPath(dir, id), h);
        return MemoryImage.of(dir, h);
    }

    /**
     * Makes a raw guest memory file (a template's memory dump, laid out like guest memory) the base layer of a new
     * image in {@code dir}, without copying it: hard-linked when on the same file system, copied otherwise. The
     * header maps the whole file as one data range; zero blocks are not looked for.
     */
    public static MemoryImage adoptBase(Path dir, Path rawFile, int blockSize) throws IOException {
        long size = Files.size(rawFile);
        checkSize(size, blockSize);
        Files.createDirectories(dir);
        long id = newLayerId(dir);
        Path data = dir.resolve(MemoryImage.hex(id) + ".layer");
        try {
            Files.createLink(data, rawFile);
        } catch (IOException | UnsupportedOperationException e) {
            Files.copy(rawFile, data);
        }
        LayerHeader h = new LayerHeader(LayerKind.MEMORY, blockSize, size, 1, id, Extent.ZERO_LAYER, ownLayer(id),
                List.of(new Extent(0, size, id, 0)));
        LayerHeaderCodec.write(MemoryImage.headerPath(dir, id), h);
        return MemoryImage.of(dir, h);
    }

    /**
     * Writes the blocks set in {@code dirty} (bit {@code i} = block {@code i}) of {@code memory} as a new layer
     * over {@code parent}; every other block keeps its parent location. The data file holds exactly the dirty
     * blocks that are not all zero, in guest order.
     */
    public static MemoryImage writeDiff(MemoryImage parent, MemorySegment memory, BitSet dirty) throws IOException {
        LayerHeader ph = parent.header();
        int bs = ph.blockSize();
        if (memory.byteSize() != ph.size()) {
            throw new IllegalArgumentException("memory of " + memory.byteSize() + " bytes over an image of "
                    + ph.size());
        }
        if (dirty.length() > ph.blockCount()) {
            throw new IllegalArgumentException("dirty block " + (dirty.length() - 1) + " beyond the image's "
                    + ph.blockCount() + " blocks");
        }
        Path dir = parent.directory();
        long id = newLayerId(dir);
        Path data = dir.resolve(MemoryImage.hex(id) + ".layer");
        List<Extent> out = new ArrayList<>(ph.extents().size() + 2 * dirty.cardinality());
        long written = 0;
        try (FileChannel ch = FileChannel.open(data, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            for (Extent e : ph.extents()) {
                int first = (int) (e.offset() / bs);
                int last = (int) (e.end() / bs); // exclusive
                int b = first;
                while (b < last) {
                    int nextDirty = dirty.nextSetBit(b);
                    if (nextDirty < 0 || nextDirty >= last) {
                        out.add(slice(e, (long) b * bs, (long) (last - b) * bs));
                        break;
                    }
                    if (nextDirty > b) {
                        out.add(slice(e, (long) b * bs, (long) (nextDirty - b) * bs));
                    }
                    int endDirty = Math.min(dirty.nextClearBit(nextDirty), last);
                    // Within the dirty run, zero blocks become zero ranges and the rest go to the data file.
                    int r = nextDirty;
                    while (r < endDirty) {
                        boolean zero = isZero(memory, r, bs);
                        int s = r + 1;
                        while (s < endDirty && isZero(memory, s, bs) == zero) {
                            s++;
                        }
                        long off = (long) r * bs;
                        long len = (long) (s - r) * bs;
                        if (zero) {
                            out.add(Extent.zero(off, len));
                        } else {
                            writeFully(ch, memory.asSlice(off, len), written);
                            out.add(new Extent(off, len, id, written));
                            written += len;
                        }
                        r = s;
                    }
                    b = endDirty;
                }
            }
            ch.force(true);
        }
        List<Extent> extents = LayerHeader.coalesce(out);
        TreeMap<Long, String> layers = ownLayer(id);
        for (Extent e : extents) {
            if (!e.isZero() && e.layerId() != id) {
                layers.put(e.layerId(), ph.layers().get(e.layerId()));
            }
        }
        LayerHeader h = new LayerHeader(LayerKind.MEMORY, bs, ph.size(), ph.generation() + 1, id, ph.layerId(),
                layers, extents);
        LayerHeaderCodec.write(MemoryImage.headerPath(dir, id), h);
        return MemoryImage.of(dir, h);
    }

    private static Extent slice(Extent e, long off, long len) {
        return e.isZero() ? Extent.zero(off, len) : new Extent(off, len, e.layerId(), e.offsetInLayer() + (off - e.offset()));
    }

    private static boolean isZero(MemorySegment memory, long block, int blockSize) {
        long off = block * blockSize;
        return MemorySegment.mismatch(memory, off, off + blockSize, ZEROS, 0, blockSize) == -1;
    }

    private static void checkSize(long size, int blockSize) {
        if (size <= 0 || size % blockSize != 0) {
            throw new IllegalArgumentException("memory of " + size + " bytes is not a multiple of the block size " + blockSize);
        }
    }

    private static void writeFully(FileChannel ch, MemorySegment src, long position) throws IOException {
        // ByteBuffer views are limited to 2 GiB: write large runs in chunks.
        long done = 0;
        while (done < src.byteSize()) {
            long chunk = Math.min(src.byteSize() - done, 1L << 30);
            ByteBuffer b = src.asSlice(done, chunk).asByteBuffer();
            while (b.hasRemaining()) {
                ch.write(b, position + done + (chunk - b.remaining()));
            }
            done += chunk;
        }
    }

    /** A layer table naming this generation's own data file, {@code <id>.layer} beside the header. */
    private static TreeMap<Long, String> ownLayer(long id) {
        TreeMap<Long, String> layers = new TreeMap<>();
        layers.put(id, MemoryImage.hex(id) + ".layer");
        return layers;
    }

    private static long newLayerId(Path dir) {
        while (true) {
            long id = LayerIds.random();
            if (!Files.exists(dir.resolve(MemoryImage.hex(id) + ".layer"))) {
                return id;
            }
        }
    }
}
