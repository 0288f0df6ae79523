package io.sandboxd.block.layer;

import io.sandboxd.block.BlockDevice;
import io.sandboxd.block.ReadSink;
import io.sandboxd.block.Zeros;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A read-only image: a header's extents over its layer files, or one raw file. Lookups are a binary search over
 * the flattened extent list (a sealed chain is never walked layer by layer), and reads hand file runs to the sink
 * so the NBD server can {@code sendfile} them.
 */
public final class LayeredImage implements BlockDevice {
    private final ImageHeader header;
    private final Path location;
    private final long[] starts;
    private final Extent[] extents;
    private final Map<Long, FileChannel> files;
    private final Map<Long, Path> paths;

    private LayeredImage(ImageHeader header, Path location, Map<Long, FileChannel> files, Map<Long, Path> paths) {
        this.header = header;
        this.location = location;
        this.files = files;
        this.paths = Map.copyOf(paths);
        List<Extent> list = header.extents();
        this.extents = list.toArray(Extent[]::new);
        this.starts = new long[extents.length];
        for (int i = 0; i < extents.length; i++) {
            starts[i] = extents[i].offset();
        }
    }

    /** Opens a header and every layer file it names (relative to the header's directory), read-only. */
    public static LayeredImage open(Path headerFile) throws IOException {
        ImageHeader h = ImageHeader.read(headerFile);
        Path dir = headerFile.toAbsolutePath().getParent();
        Map<Long, FileChannel> files = new HashMap<>();
        Map<Long, Path> paths = new HashMap<>();
        try {
            for (Map.Entry<Long, String> l : h.layers().entrySet()) {
                Path f = dir.resolve(l.getValue()).normalize();
                paths.put(l.getKey(), f);
                if (!Files.isRegularFile(f)) {
                    throw new ImageFormatException(headerFile, "layer " + l.getKey() + " file " + f + " is missing");
                }
                files.put(l.getKey(), FileChannel.open(f, StandardOpenOption.READ));
            }
        } catch (IOException | RuntimeException e) {
            closeAll(files);
            throw e;
        }
        return new LayeredImage(h, headerFile, files, paths);
    }

    /** A raw image file as a single-layer image (a template's rootfs.img without a header). */
    public static LayeredImage raw(Path imageFile, int blockSize) throws IOException {
        Path abs = imageFile.toAbsolutePath().normalize();
        FileChannel ch = FileChannel.open(abs, StandardOpenOption.READ);
        try {
            long size = ch.size();
            // A raw template image has no header to carry an id; derive a stable one so an overlay made over it
            // can check, when reopened, that it sits on the same (immutable) file.
            java.util.UUID id = java.util.UUID.nameUUIDFromBytes((abs + "\0" + size + "\0"
                    + Files.getLastModifiedTime(abs).toMillis()).getBytes(java.nio.charset.StandardCharsets.UTF_8));
            ImageHeader single = ImageHeader.single(blockSize, size, 1, abs.toString());
            ImageHeader h = new ImageHeader(blockSize, size, 0, id, single.layers(), single.extents());
            return new LayeredImage(h, abs, new HashMap<>(Map.of(1L, ch)), Map.of(1L, abs));
        } catch (RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    /** Opens {@code path} as a header when it carries the header magic, else as a raw image. */
    public static LayeredImage openAny(Path path, int blockSize) throws IOException {
        byte[] head = new byte[8];
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            int n = ch.read(ByteBuffer.wrap(head), 0);
            if (n == 8 && ByteBuffer.wrap(head).getLong() == ImageHeader.MAGIC) {
                return open(path);
            }
        }
        return raw(path, blockSize);
    }

    public ImageHeader header() {
        return header;
    }

    /** The data file of each layer, absolute. */
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
        int i = indexOf(offset);
        long at = offset;
        while (at < end) {
            Extent e = extents[i++];
            long n = Math.min(e.end(), end) - at;
            if (e.isZero()) {
                sink.zeros(n);
            } else {
                sink.file(files.get(e.layerId()), e.offsetInLayer() + (at - e.offset()), n);
            }
            at += n;
        }
    }

    /** Copies {@code dst.remaining()} bytes at {@code offset} into {@code dst} (zeros past a layer file's end). */
    public void readInto(long offset, ByteBuffer dst) throws IOException {
        read(offset, dst.remaining(), new ReadSink() {
            @Override
            public void file(FileChannel file, long position, long length) throws IOException {
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
        java.util.ArrayList<Extent> out = new java.util.ArrayList<>();
        if (from == to) {
            return out;
        }
        for (int i = indexOf(from); i < extents.length && extents[i].offset() < to; i++) {
            out.add(extents[i].clip(from, to));
        }
        return out;
    }

    private int indexOf(long offset) {
        int i = java.util.Arrays.binarySearch(starts, offset);
        return i >= 0 ? i : -i - 2;
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
        closeAll(files);
    }

    private static void closeAll(Map<Long, FileChannel> files) throws IOException {
        IOException first = null;
        for (FileChannel ch : files.values()) {
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
