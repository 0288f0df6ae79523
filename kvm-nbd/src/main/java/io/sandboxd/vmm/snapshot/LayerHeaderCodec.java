package io.sandboxd.vmm.snapshot;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.CRC32C;

/**
 * The on-disk form of a {@link LayerHeader}, little endian:
 *
 * <pre>
 *  0  magic "SBXMEMLH"            8 bytes
 *  8  version                     u32 (= 1)
 * 12  block size                  u32
 * 16  total size                  u64
 * 24  generation                  u64
 * 32  layer id                    u64
 * 40  parent layer id             u64 (0 for a base image)
 * 48  range count n               u32
 * 52  reserved                    u32 (0)
 * 56  n ranges: offset u64, length u64, layer id u64 (0 = zero range), offset in layer u64
 * 56 + 32n  CRC32C of all bytes before it   u32
 * </pre>
 *
 * Reading checks the length against the range count before allocating anything, and caps the count, so a
 * corrupt or hostile file cannot make the reader allocate gigabytes.
 */
public final class LayerHeaderCodec {
    static final byte[] MAGIC = {'S', 'B', 'X', 'M', 'E', 'M', 'L', 'H'};
    public static final int VERSION = 1;
    static final int FIXED_BYTES = 56;
    static final int EXTENT_BYTES = 32;
    static final int CRC_BYTES = 4;
    static final long MAX_FILE_BYTES = FIXED_BYTES + (long) LayerHeader.MAX_EXTENTS * EXTENT_BYTES + CRC_BYTES;

    private LayerHeaderCodec() {
    }

    public static byte[] encode(LayerHeader h) {
        int n = h.extents().size();
        ByteBuffer b = ByteBuffer.allocate(FIXED_BYTES + n * EXTENT_BYTES + CRC_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        b.put(MAGIC).putInt(VERSION).putInt(h.blockSize()).putLong(h.totalSize()).putLong(h.generation())
                .putLong(h.layerId()).putLong(h.parentLayerId()).putInt(n).putInt(0);
        for (Extent e : h.extents()) {
            b.putLong(e.offset()).putLong(e.length()).putLong(e.layerId()).putLong(e.offsetInLayer());
        }
        CRC32C crc = new CRC32C();
        crc.update(b.array(), 0, b.position());
        b.putInt((int) crc.getValue());
        return b.array();
    }

    public static LayerHeader decode(Path file, byte[] bytes) throws SnapshotFormatException {
        if (bytes.length < FIXED_BYTES + CRC_BYTES) {
            throw new SnapshotFormatException(file, "truncated: " + bytes.length + " bytes, a layer header has at least "
                    + (FIXED_BYTES + CRC_BYTES));
        }
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        byte[] magic = new byte[MAGIC.length];
        b.get(magic);
        if (!java.util.Arrays.equals(magic, MAGIC)) {
            throw new SnapshotFormatException(file, "not a sandboxd memory layer header (bad magic)");
        }
        int version = b.getInt();
        if (version != VERSION) {
            throw new SnapshotFormatException(file, "format version " + version + ", this build reads version " + VERSION);
        }
        int blockSize = b.getInt();
        long totalSize = b.getLong();
        long generation = b.getLong();
        long layerId = b.getLong();
        long parent = b.getLong();
        long count = Integer.toUnsignedLong(b.getInt());
        b.getInt();
        if (count > LayerHeader.MAX_EXTENTS) {
            throw new SnapshotFormatException(file, count + " ranges exceed the cap of " + LayerHeader.MAX_EXTENTS);
        }
        long expected = FIXED_BYTES + count * EXTENT_BYTES + CRC_BYTES;
        if (bytes.length != expected) {
            throw new SnapshotFormatException(file, (bytes.length < expected ? "truncated: " : "trailing bytes: ")
                    + bytes.length + " bytes, " + count + " ranges need " + expected);
        }
        CRC32C crc = new CRC32C();
        crc.update(bytes, 0, bytes.length - CRC_BYTES);
        int stored = ByteBuffer.wrap(bytes, bytes.length - CRC_BYTES, CRC_BYTES).order(ByteOrder.LITTLE_ENDIAN).getInt();
        if (stored != (int) crc.getValue()) {
            throw new SnapshotFormatException(file, "checksum mismatch (CRC32C stored " + Integer.toHexString(stored)
                    + ", computed " + Integer.toHexString((int) crc.getValue()) + "): the file is corrupt");
        }
        List<Extent> extents = new ArrayList<>((int) count);
        for (long i = 0; i < count; i++) {
            long off = b.getLong();
            long len = b.getLong();
            long id = b.getLong();
            long inLayer = b.getLong();
            if (off < 0 || len <= 0 || inLayer < 0 || (id == Extent.ZERO_LAYER && inLayer != 0)) {
                throw new SnapshotFormatException(file, "range " + i + " is invalid: offset " + off + ", length " + len
                        + ", layer " + Long.toHexString(id) + ", offset in layer " + inLayer);
            }
            extents.add(new Extent(off, len, id, inLayer));
        }
        String problem = LayerHeader.problem(blockSize, totalSize, generation, layerId, parent, extents);
        if (problem != null) {
            throw new SnapshotFormatException(file, problem);
        }
        return new LayerHeader(blockSize, totalSize, generation, layerId, parent, extents);
    }

    public static LayerHeader read(Path file) throws IOException {
        long size = Files.size(file);
        if (size > MAX_FILE_BYTES) {
            throw new SnapshotFormatException(file, size + " bytes exceeds the header size cap of " + MAX_FILE_BYTES);
        }
        return decode(file, Files.readAllBytes(file));
    }

    /** Writes durably: to a temporary file, fsync, then renamed over {@code file}, so a crash leaves old or new. */
    public static void write(Path file, LayerHeader header) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                StandardOpenOption.WRITE)) {
            ByteBuffer b = ByteBuffer.wrap(encode(header));
            while (b.hasRemaining()) {
                ch.write(b);
            }
            ch.force(true);
        }
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }
}
