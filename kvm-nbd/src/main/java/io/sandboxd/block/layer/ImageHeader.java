package io.sandboxd.block.layer;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.zip.CRC32C;

/**
 * The description of a layered image (e.g. {@code rootfs.header}): block size, size, generation, the layers by id
 * (each a data file next to the header) and the extents that map every byte of the image to a layer or to zeros.
 *
 * <pre>
 * 0   u64  magic "SBXBLKH1"
 * 8   u32  version (1)
 * 12  u32  block size
 * 16  u64  image size
 * 24  u64  generation (0 for a template, +1 per seal)
 * 32  16B  image id (random per header; an overlay records its base's id)
 * 48  u32  layer count
 * 52  u32  extent count
 * 56  layers:  u64 layer id, u16 name length, path of its data file (relative to the header's directory, or absolute)
 *     extents: u64 offset, u64 length, u64 layer id, u64 offset in layer
 *     u32  CRC32C of everything before it
 * </pre>
 * Big-endian. Reading validates everything (caps before allocating, sorted contiguous extents covering the image,
 * known layer ids), so a bad or truncated file is an {@link ImageFormatException}, never a
 * half-usable image.
 */
public record ImageHeader(int blockSize, long size, long generation, UUID imageId, Map<Long, String> layers,
        List<Extent> extents) {
    static final long MAGIC = 0x5342_5842_4C4B_4831L; // "SBXBLKH1"
    static final int VERSION = 1;
    static final int FIXED = 56;
    /** Upper bound on a header file: 4 Mi extents is a 16 GiB image fragmented at every 4 KiB block. */
    static final long MAX_FILE = 160L << 20;
    static final int MAX_LAYERS = 65_536;
    static final int MAX_NAME = 4096;

    public ImageHeader {
        layers = Map.copyOf(layers);
        extents = List.copyOf(extents);
        String problem = problem(blockSize, size, layers, extents);
        if (problem != null) {
            throw new IllegalArgumentException(problem);
        }
    }

    /** A header for one raw file holding the whole image (a template image before any seal). */
    public static ImageHeader single(int blockSize, long size, long layerId, String fileName) {
        return new ImageHeader(blockSize, size, 0, UUID.randomUUID(), Map.of(layerId, fileName),
                size == 0 ? List.of() : List.of(new Extent(0, size, layerId, 0)));
    }

    public long maxLayerId() {
        return layers.keySet().stream().mapToLong(Long::longValue).max().orElse(0);
    }

    private static String problem(int blockSize, long size, Map<Long, String> layers, List<Extent> extents) {
        if (blockSize < 512 || Integer.bitCount(blockSize) != 1) {
            return "block size " + blockSize + " is not a power of two >= 512";
        }
        if (size < 0) {
            return "negative size " + size;
        }
        for (Map.Entry<Long, String> l : layers.entrySet()) {
            if (l.getKey() == Extent.ZERO_LAYER) {
                return "layer id 0 is reserved for zero extents";
            }
            String n = l.getValue();
            if (n.isEmpty() || n.length() > MAX_NAME || n.indexOf('\0') >= 0) {
                return "layer " + l.getKey() + " has a bad file name '" + n + "'";
            }
        }
        long at = 0;
        for (Extent e : extents) {
            if (e.offset() != at) {
                return "extents leave a gap or overlap at " + at + " (next starts at " + e.offset() + ")";
            }
            if (e.offset() % blockSize != 0 || (e.end() % blockSize != 0 && e.end() != size)) {
                return "extent at " + e.offset() + " is not aligned to the block size";
            }
            if (!e.isZero() && !layers.containsKey(e.layerId())) {
                return "extent at " + e.offset() + " names unknown layer " + e.layerId();
            }
            at = e.end();
        }
        if (at != size) {
            return "extents cover " + at + " bytes of a " + size + "-byte image";
        }
        return null;
    }

    public byte[] encode() {
        List<Map.Entry<Long, byte[]>> names = new ArrayList<>();
        int namesLen = 0;
        for (Map.Entry<Long, String> l : layers.entrySet()) {
            byte[] n = l.getValue().getBytes(StandardCharsets.UTF_8);
            names.add(Map.entry(l.getKey(), n));
            namesLen += 10 + n.length;
        }
        ByteBuffer b = ByteBuffer.allocate(FIXED + namesLen + extents.size() * 32 + 4).order(ByteOrder.BIG_ENDIAN);
        b.putLong(MAGIC).putInt(VERSION).putInt(blockSize).putLong(size).putLong(generation)
                .putLong(imageId.getMostSignificantBits()).putLong(imageId.getLeastSignificantBits())
                .putInt(layers.size()).putInt(extents.size());
        for (Map.Entry<Long, byte[]> l : names) {
            b.putLong(l.getKey()).putShort((short) l.getValue().length).put(l.getValue());
        }
        for (Extent e : extents) {
            b.putLong(e.offset()).putLong(e.length()).putLong(e.layerId()).putLong(e.offsetInLayer());
        }
        CRC32C crc = new CRC32C();
        crc.update(b.array(), 0, b.position());
        b.putInt((int) crc.getValue());
        return b.array();
    }

    public static ImageHeader decode(Path file, byte[] data) throws ImageFormatException {
        if (data.length < FIXED + 4) {
            throw new ImageFormatException(file, "truncated header (" + data.length + " bytes)");
        }
        ByteBuffer b = ByteBuffer.wrap(data).order(ByteOrder.BIG_ENDIAN);
        if (b.getLong() != MAGIC) {
            throw new ImageFormatException(file, "not an image header (bad magic)");
        }
        int version = b.getInt();
        if (version != VERSION) {
            throw new ImageFormatException(file, "unsupported version " + version + " (this build reads " + VERSION + ")");
        }
        CRC32C crc = new CRC32C();
        crc.update(data, 0, data.length - 4);
        if ((int) crc.getValue() != ByteBuffer.wrap(data, data.length - 4, 4).getInt()) {
            throw new ImageFormatException(file, "checksum mismatch (truncated or corrupted)");
        }
        int blockSize = b.getInt();
        long size = b.getLong();
        long generation = b.getLong();
        UUID id = new UUID(b.getLong(), b.getLong());
        long layerCount = Integer.toUnsignedLong(b.getInt());
        long extentCount = Integer.toUnsignedLong(b.getInt());
        if (layerCount > MAX_LAYERS || extentCount * 32 > data.length) {
            throw new ImageFormatException(file, "counts do not fit the file: " + layerCount + " layers, "
                    + extentCount + " extents");
        }
        try {
            Map<Long, String> layers = new LinkedHashMap<>();
            for (long i = 0; i < layerCount; i++) {
                long lid = b.getLong();
                int len = Short.toUnsignedInt(b.getShort());
                if (len > MAX_NAME || len > b.remaining() - 4) {
                    throw new ImageFormatException(file, "layer name length " + len + " out of range");
                }
                byte[] n = new byte[len];
                b.get(n);
                if (layers.put(lid, new String(n, StandardCharsets.UTF_8)) != null) {
                    throw new ImageFormatException(file, "layer id " + lid + " listed twice");
                }
            }
            if (b.remaining() != extentCount * 32 + 4) {
                throw new ImageFormatException(file, "length does not match " + extentCount + " extents");
            }
            List<Extent> extents = new ArrayList<>((int) extentCount);
            for (long i = 0; i < extentCount; i++) {
                extents.add(new Extent(b.getLong(), b.getLong(), b.getLong(), b.getLong()));
            }
            return new ImageHeader(blockSize, size, generation, id, layers, extents);
        } catch (IllegalArgumentException | java.nio.BufferUnderflowException e) {
            throw new ImageFormatException(file, e.getMessage() == null ? "truncated" : e.getMessage());
        }
    }

    public static ImageHeader read(Path file) throws IOException {
        long len = Files.size(file);
        if (len > MAX_FILE) {
            throw new ImageFormatException(file, "header of " + len + " bytes exceeds the " + MAX_FILE + "-byte cap");
        }
        return decode(file, Files.readAllBytes(file));
    }

    /** Writes atomically and durably: temp file, fsync, rename over {@code file}, fsync the directory. */
    public void write(Path file) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            ByteBuffer b = ByteBuffer.wrap(encode());
            while (b.hasRemaining()) {
                ch.write(b);
            }
            ch.force(true);
        }
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        syncDirectory(file.toAbsolutePath().getParent());
    }

    /** fsync of a directory, so a created or renamed entry survives a crash. */
    public static void syncDirectory(Path dir) throws IOException {
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        }
    }
}
