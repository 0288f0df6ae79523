package io.sandboxd.layer;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.zip.CRC32C;

/**
 * The one on-disk form of a {@link LayerHeader}, for disk layers ({@code rootfs.header}, sealed overlays) and memory
 * layers ({@code <id>.header}) alike; little endian:
 *
 * <pre>
 *  0  magic "SBXLAYER"                      8 bytes
 *  8  version                               u32 (= 1)
 * 12  kind                                  u32 (1 = disk, 2 = memory)
 * 16  block size                            u32
 * 20  extent count n                        u32
 * 24  image size                            u64
 * 32  generation                            u64 (1 = base)
 * 40  layer id                              u64 (this generation's layer, never 0)
 * 48  parent layer id                       u64 (0 for a base)
 * 56  layer count m                         u32
 * 60  layer table bytes t                   u32
 * 64  n extents: offset u64, length u64, layer id u64 (0 = zeros), offset in layer u64
 * 64 + 32n       layer table, t bytes: m times (layer id u64, name length u16, UTF-8 file name)
 * 64 + 32n + t   CRC32C of all bytes before it  u32
 * </pre>
 *
 * Reading checks the length against the counts (each capped) before allocating anything, so a corrupt or hostile
 * file cannot make the reader allocate gigabytes; then the checksum, then the kind the caller expects, then that
 * the extents are consistent. A bad or truncated file is a {@link LayerFormatException}, never a half-usable header.
 */
public final class LayerHeaderCodec {
    static final byte[] MAGIC = {'S', 'B', 'X', 'L', 'A', 'Y', 'E', 'R'};
    public static final int VERSION = 1;
    static final int FIXED_BYTES = 64;
    static final int EXTENT_BYTES = 32;
    static final int CRC_BYTES = 4;
    static final long MAX_TABLE_BYTES = 16 << 20;
    static final long MAX_FILE_BYTES = FIXED_BYTES + (long) LayerHeader.MAX_EXTENTS * EXTENT_BYTES + MAX_TABLE_BYTES
            + CRC_BYTES;

    private LayerHeaderCodec() {
    }

    public static byte[] encode(LayerHeader h) {
        List<byte[]> names = new ArrayList<>(h.layers().size());
        long table = 0;
        for (String n : h.layers().values()) {
            byte[] b = n.getBytes(StandardCharsets.UTF_8);
            names.add(b);
            table += 10 + b.length;
        }
        int n = h.extents().size();
        ByteBuffer b = ByteBuffer.allocate(Math.toIntExact(FIXED_BYTES + (long) n * EXTENT_BYTES + table + CRC_BYTES))
                .order(ByteOrder.LITTLE_ENDIAN);
        b.put(MAGIC).putInt(VERSION).putInt(h.kind().code()).putInt(h.blockSize()).putInt(n).putLong(h.size())
                .putLong(h.generation()).putLong(h.layerId()).putLong(h.parentLayerId()).putInt(h.layers().size())
                .putInt((int) table);
        for (Extent e : h.extents()) {
            b.putLong(e.offset()).putLong(e.length()).putLong(e.layerId()).putLong(e.offsetInLayer());
        }
        int i = 0;
        for (long id : h.layers().keySet()) {
            byte[] name = names.get(i++);
            b.putLong(id).putShort((short) name.length).put(name);
        }
        CRC32C crc = new CRC32C();
        crc.update(b.array(), 0, b.position());
        b.putInt((int) crc.getValue());
        return b.array();
    }

    /** Decodes a header of either kind. */
    public static LayerHeader decode(Path file, byte[] bytes) throws LayerFormatException {
        return decode(file, bytes, null);
    }

    /** Decodes a header, refusing one of another kind than {@code expected} (null: any kind). */
    public static LayerHeader decode(Path file, byte[] bytes, LayerKind expected) throws LayerFormatException {
        if (bytes.length < FIXED_BYTES + CRC_BYTES) {
            throw new LayerFormatException(file, "truncated: " + bytes.length + " bytes, a layer header has at least "
                    + (FIXED_BYTES + CRC_BYTES));
        }
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        if (!Arrays.equals(bytes, 0, MAGIC.length, MAGIC, 0, MAGIC.length)) {
            throw new LayerFormatException(file, "not a sandboxd layer header (bad magic)");
        }
        b.position(MAGIC.length);
        int version = b.getInt();
        if (version != VERSION) {
            throw new LayerFormatException(file, "format version " + version + ", this build reads version " + VERSION);
        }
        int kindCode = b.getInt();
        int blockSize = b.getInt();
        long count = Integer.toUnsignedLong(b.getInt());
        long size = b.getLong();
        long generation = b.getLong();
        long layerId = b.getLong();
        long parent = b.getLong();
        long layerCount = Integer.toUnsignedLong(b.getInt());
        long tableBytes = Integer.toUnsignedLong(b.getInt());
        if (count > LayerHeader.MAX_EXTENTS) {
            throw new LayerFormatException(file, count + " ranges exceed the cap of " + LayerHeader.MAX_EXTENTS);
        }
        if (layerCount > LayerHeader.MAX_LAYERS || tableBytes > MAX_TABLE_BYTES) {
            throw new LayerFormatException(file, layerCount + " layers in " + tableBytes + " bytes exceed the cap of "
                    + LayerHeader.MAX_LAYERS + " layers in " + MAX_TABLE_BYTES);
        }
        long expectedLength = FIXED_BYTES + count * EXTENT_BYTES + tableBytes + CRC_BYTES;
        if (bytes.length != expectedLength) {
            throw new LayerFormatException(file, (bytes.length < expectedLength ? "truncated: " : "trailing bytes: ")
                    + bytes.length + " bytes, " + count + " ranges and a " + tableBytes + "-byte layer table need "
                    + expectedLength);
        }
        CRC32C crc = new CRC32C();
        crc.update(bytes, 0, bytes.length - CRC_BYTES);
        int stored = b.getInt(bytes.length - CRC_BYTES);
        if (stored != (int) crc.getValue()) {
            throw new LayerFormatException(file, "checksum mismatch (CRC32C stored " + Integer.toHexString(stored)
                    + ", computed " + Integer.toHexString((int) crc.getValue()) + "): the file is corrupt");
        }
        LayerKind kind = LayerKind.of(kindCode);
        if (kind == null) {
            throw new LayerFormatException(file, "unknown layer kind " + kindCode);
        }
        if (expected != null && kind != expected) {
            throw new LayerFormatException(file, "is a " + kind.noun() + " layer, but a " + expected.noun()
                    + " layer is expected here");
        }
        List<Extent> extents = new ArrayList<>((int) count);
        for (long i = 0; i < count; i++) {
            long off = b.getLong();
            long len = b.getLong();
            long id = b.getLong();
            long inLayer = b.getLong();
            if (off < 0 || len <= 0 || inLayer < 0 || off + len < 0 || inLayer + len < 0
                    || (id == Extent.ZERO_LAYER && inLayer != 0)) {
                throw new LayerFormatException(file, "range " + i + " is invalid: offset " + off + ", length " + len
                        + ", layer " + Long.toHexString(id) + ", offset in layer " + inLayer);
            }
            extents.add(new Extent(off, len, id, inLayer));
        }
        Map<Long, String> layers = new TreeMap<>();
        int tableEnd = (int) (b.position() + tableBytes);
        var utf8 = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
        for (long i = 0; i < layerCount; i++) {
            if (tableEnd - b.position() < 10) {
                throw new LayerFormatException(file, "layer table ends inside entry " + i);
            }
            long id = b.getLong();
            int len = Short.toUnsignedInt(b.getShort());
            if (len > tableEnd - b.position()) {
                throw new LayerFormatException(file, "layer " + Long.toHexString(id) + " name of " + len
                        + " bytes runs past the layer table");
            }
            String name;
            try {
                name = utf8.decode(b.slice(b.position(), len)).toString();
            } catch (CharacterCodingException e) {
                throw new LayerFormatException(file, "layer " + Long.toHexString(id) + " name is not UTF-8");
            }
            b.position(b.position() + len);
            if (layers.put(id, name) != null) {
                throw new LayerFormatException(file, "layer " + Long.toHexString(id) + " listed twice");
            }
        }
        if (b.position() != tableEnd) {
            throw new LayerFormatException(file, "layer table has " + (tableEnd - b.position())
                    + " bytes after its " + layerCount + " entries");
        }
        String problem = LayerHeader.problem(kind, blockSize, size, generation, layerId, parent, layers, extents);
        if (problem != null) {
            throw new LayerFormatException(file, problem);
        }
        return new LayerHeader(kind, blockSize, size, generation, layerId, parent, new TreeMap<>(layers), extents);
    }

    /** Reads a header of either kind. */
    public static LayerHeader read(Path file) throws IOException {
        return read(file, null);
    }

    /** Reads a header, refusing one of another kind than {@code expected} (null: any kind). */
    public static LayerHeader read(Path file, LayerKind expected) throws IOException {
        long size;
        try {
            size = Files.size(file);
        } catch (NoSuchFileException e) {
            throw new LayerFormatException(file, "no such file");
        }
        if (size > MAX_FILE_BYTES) {
            throw new LayerFormatException(file, size + " bytes exceeds the header size cap of " + MAX_FILE_BYTES);
        }
        return decode(file, Files.readAllBytes(file), expected);
    }

    /** True when {@code file} starts with the layer header magic (a raw image does not, in practice). */
    public static boolean isLayerHeader(Path file) throws IOException {
        byte[] head = new byte[MAGIC.length];
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer b = ByteBuffer.wrap(head);
            while (b.hasRemaining() && ch.read(b, b.position()) > 0) {
                // keep reading: a short read is not the end of the file
            }
            return !b.hasRemaining() && Arrays.equals(head, MAGIC);
        }
    }

    /**
     * Writes durably: to a temporary file, fsync, renamed over {@code file}, then the directory synced, so a crash
     * leaves the old header or the new one, and a new one survives.
     */
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
        syncDirectory(file.toAbsolutePath().getParent());
    }

    /** fsync of a directory, so a created or renamed entry survives a crash. */
    public static void syncDirectory(Path dir) throws IOException {
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        }
    }
}
