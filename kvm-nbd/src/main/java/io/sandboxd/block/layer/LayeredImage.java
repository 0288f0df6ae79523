package io.sandboxd.block.layer;

import io.sandboxd.block.BlockDevice;
import io.sandboxd.block.FileMapping;
import io.sandboxd.block.ReadSink;
import io.sandboxd.block.Zeros;
import io.sandboxd.layer.Extent;
import io.sandboxd.layer.ExtentIndex;
import io.sandboxd.layer.LayerFormatException;
import io.sandboxd.layer.LayerHeader;
import io.sandboxd.layer.LayerHeaderCodec;
import io.sandboxd.layer.LayerKind;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * A read-only disk image: a {@link LayerKind#DISK} layer header's extents over its layer files, or one raw file.
 * Lookups are a binary search over the flattened extents ({@link ExtentIndex}; a sealed chain is never walked layer
 * by layer), and reads hand file runs to the sink so the NBD server can send them straight from the file.
 */
public final class LayeredImage implements BlockDevice {
    private final LayerHeader header;
    private final Path location;
    private final ExtentIndex index;
    /**
     * Open layer files by layer number of {@link #index}: channels, and read-only shared mappings of the whole
     * file ({@link MemorySegment#NULL} for an empty one) that the NBD server copies and sends from without a
     * {@code pread} per request. Layer files are immutable, so a mapping never loses its tail to a truncate.
     */
    private final FileChannel[] files;
    private final MemorySegment[] mappings;
    private final Arena arena;
    private final Map<Long, Path> paths;

    private LayeredImage(LayerHeader header, Path location, FileChannel[] files, MemorySegment[] mappings,
            Arena arena, Map<Long, Path> paths) {
        this.header = header;
        this.location = location;
        this.index = new ExtentIndex(header);
        this.files = files;
        this.mappings = mappings;
        this.arena = arena;
        this.paths = Map.copyOf(paths);
    }

    /**
     * Opens a disk layer header and every layer file its extents use (paths relative to the header's directory),
     * read-only. A memory layer header is refused with the reason.
     */
    public static LayeredImage open(Path headerFile) throws IOException {
        LayerHeader h = LayerHeaderCodec.read(headerFile, LayerKind.DISK);
        Path dir = headerFile.toAbsolutePath().getParent();
        return openLayers(h, headerFile, dir);
    }

    private static LayeredImage openLayers(LayerHeader h, Path location, Path dir) throws IOException {
        ExtentIndex index = new ExtentIndex(h);
        FileChannel[] files = new FileChannel[index.layerCount()];
        MemorySegment[] mappings = new MemorySegment[index.layerCount()];
        Arrays.fill(mappings, MemorySegment.NULL);
        Arena arena = Arena.ofShared();
        Map<Long, Path> paths = new HashMap<>();
        try {
            for (Map.Entry<Long, String> l : h.layers().entrySet()) {
                paths.put(l.getKey(), h.layerPath(dir, l.getKey()));
            }
            for (int layer = 0; layer < files.length; layer++) {
                long id = index.layerId(layer);
                Path f = paths.get(id);
                if (!Files.isRegularFile(f)) {
                    throw new LayerFormatException(location, "layer " + Long.toHexString(id) + " file " + f
                            + " is missing");
                }
                files[layer] = FileChannel.open(f, StandardOpenOption.READ);
                mappings[layer] = FileMapping.readOnly(f, files[layer].size(), arena);
            }
        } catch (IOException | RuntimeException e) {
            closeAll(files, arena);
            throw e;
        }
        return new LayeredImage(h, location, files, mappings, arena, paths);
    }

    /** A raw image file as a single-layer image (a template's rootfs.img without a header). */
    public static LayeredImage raw(Path imageFile, int blockSize) throws IOException {
        Path abs = imageFile.toAbsolutePath().normalize();
        long size = Files.size(abs);
        // A raw image has no header to carry a layer id; derive a stable one so an overlay made over it can check,
        // when reopened, that it sits on the same (immutable) file.
        UUID u = UUID.nameUUIDFromBytes((abs + "\0" + size + "\0" + Files.getLastModifiedTime(abs).toMillis())
                .getBytes(StandardCharsets.UTF_8));
        long id = u.getMostSignificantBits() ^ u.getLeastSignificantBits();
        LayerHeader h = LayerHeader.single(LayerKind.DISK, blockSize, size, id == Extent.ZERO_LAYER ? 1 : id,
                abs.toString());
        return openLayers(h, abs, abs.getParent());
    }

    /** Opens {@code path} as a layer header when it carries the header magic, else as a raw image. */
    public static LayeredImage openAny(Path path, int blockSize) throws IOException {
        return LayerHeaderCodec.isLayerHeader(path) ? open(path) : raw(path, blockSize);
    }

    public LayerHeader header() {
        return header;
    }

    /** The data file of each layer in the header's table, absolute. */
    public Map<Long, Path> layerPaths() {
        return paths;
    }

    /** The header file, or the raw image file. */
    public Path location() {
        return location;
    }

    @Override
    public long size() {
        return header.size();
    }

    @Override
    public boolean readOnly() {
        return true;
    }

    @Override
    public void read(long offset, long length, ReadSink sink) throws IOException {
        BlockDevice.checkBounds(offset, length, size());
        long end = offset + length;
        long at = offset;
        int i = at < end ? index.find(offset) : 0;
        while (at < end) {
            long n = Math.min(index.end(i), end) - at;
            int layer = index.layer(i);
            if (layer < 0) {
                sink.zeros(n);
            } else {
                sink.file(files[layer], mappings[layer], index.offsetInLayer(i) + (at - index.start(i)), n);
            }
            at += n;
            i++;
        }
    }

    /** Copies {@code dst.remaining()} bytes at {@code offset} into {@code dst} (zeros past a layer file's end). */
    public void readInto(long offset, ByteBuffer dst) throws IOException {
        read(offset, dst.remaining(), new ReadSink() {
            @Override
            public void file(FileChannel file, MemorySegment mapping, long position, long length) throws IOException {
                readFully(file, position, dst, length);
            }

            @Override
            public void zeros(long length) {
                Zeros.put(dst, length);
            }
        });
    }

    /** Reads {@code length} bytes into {@code dst}; past end of file the rest is zero-filled. */
    public static void readFully(FileChannel file, long position, ByteBuffer dst, long length)
            throws IOException {
        int limit = dst.limit();
        dst.limit(Math.toIntExact(dst.position() + length));
        try {
            long pos = position;
            while (dst.hasRemaining()) {
                int n = file.read(dst, pos);
                if (n < 0) {
                    Zeros.put(dst, dst.remaining());
                    break;
                }
                pos += n;
            }
        } finally {
            dst.limit(limit);
        }
    }

    /** The extents overlapping {@code [from, to)}, clipped to it. */
    public List<Extent> extentsIn(long from, long to) {
        BlockDevice.checkBounds(from, to - from, size());
        List<Extent> out = new ArrayList<>();
        if (from == to) {
            return out;
        }
        List<Extent> all = header.extents();
        for (int i = header.find(from); i < all.size() && all.get(i).offset() < to; i++) {
            out.add(all.get(i).clip(from, to));
        }
        return out;
    }

    @Override
    public void write(long offset, ByteBuffer src) {
        throw new UnsupportedOperationException("image " + location + " is read-only");
    }

    @Override
    public void writeZeroes(long offset, long length, boolean mayPunch) {
        throw new UnsupportedOperationException("image " + location + " is read-only");
    }

    @Override
    public void trim(long offset, long length) {
        throw new UnsupportedOperationException("image " + location + " is read-only");
    }

    @Override
    public void flush() {
        // nothing is ever written
    }

    @Override
    public void close() throws IOException {
        closeAll(files, arena);
    }

    private static void closeAll(FileChannel[] files, Arena arena) throws IOException {
        IOException first = null;
        if (arena.scope().isAlive()) {
            try {
                arena.close(); // unmaps every layer
            } catch (IllegalStateException inUse) {
                // Left mapped rather than pulled from under a reader; closing again later unmaps it.
                first = new IOException("image still in use: a reader is inside a call on its mapped layers", inUse);
            }
        }
        for (FileChannel ch : files) {
            if (ch == null) {
                continue;
            }
            try {
                ch.close();
            } catch (IOException e) {
                if (first == null) {
                    first = e;
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }
}
