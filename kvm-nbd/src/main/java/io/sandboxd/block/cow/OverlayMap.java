package io.sandboxd.block.cow;

import io.sandboxd.layer.LayerFormatException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.zip.CRC32C;

/**
 * The overlay's persistent block bitmap ({@code <overlay>.map}): a header written once at creation, then the bitmap
 * pages of {@link BlockStates} at offset 4096, rewritten in place (only dirty pages) on flush.
 *
 * <pre>
 * 0   u64  magic "SBXCOWM1"
 * 8   u32  version (2)
 * 12  u32  block size
 * 16  u64  image size
 * 24  u64  base layer id      (with the generation: the overlay refuses to open over a different base)
 * 32  u64  reserved (0)
 * 40  u64  base generation
 * 48  16B  overlay id
 * 64  u32  CRC32C of bytes [0, 64)
 * 4096     bitmap: 2 bits per block, little-endian u64 words, 4 KiB pages
 * </pre>
 * In-place page rewrites are safe without a second copy: a torn page write leaves each block's two bits either the
 * old persisted value or the new one (2-bit entries never straddle a sector), and both are valid states; see
 * {@link Overlay#flush()} for why.
 */
final class OverlayMap implements AutoCloseable {
    static final long MAGIC = 0x5342_5843_4F57_4D31L; // "SBXCOWM1"
    static final int VERSION = 2;
    static final int HEADER_BYTES = 64;
    static final long BITMAP_OFFSET = 4096;

    record Identity(int blockSize, long size, long baseLayerId, long baseGeneration, UUID overlayId) {
    }

    private final Path path;
    private final FileChannel ch;
    private final Identity identity;
    private final ByteBuffer page = ByteBuffer.allocateDirect(BlockStates.PAGE_BYTES);

    private OverlayMap(Path path, FileChannel ch, Identity identity) {
        this.path = path;
        this.ch = ch;
        this.identity = identity;
    }

    static OverlayMap create(Path path, Identity id, int pages) throws IOException {
        FileChannel ch = FileChannel.open(path, StandardOpenOption.CREATE_NEW, StandardOpenOption.READ,
                StandardOpenOption.WRITE);
        try {
            ByteBuffer h = ByteBuffer.allocate(HEADER_BYTES + 4).order(ByteOrder.BIG_ENDIAN);
            h.putLong(MAGIC).putInt(VERSION).putInt(id.blockSize()).putLong(id.size())
                    .putLong(id.baseLayerId()).putLong(0)
                    .putLong(id.baseGeneration())
                    .putLong(id.overlayId().getMostSignificantBits()).putLong(id.overlayId().getLeastSignificantBits());
            CRC32C crc = new CRC32C();
            crc.update(h.array(), 0, HEADER_BYTES);
            h.putInt((int) crc.getValue()).flip();
            writeFully(ch, h, 0);
            // The bitmap is written out as zeros (all BASE) rather than left as a hole: the size is then right for
            // open(), and later in-place page rewrites never need to allocate.
            ByteBuffer zeros = ByteBuffer.allocate(BlockStates.PAGE_BYTES);
            for (int p = 0; p < pages; p++) {
                writeFully(ch, zeros.clear(), BITMAP_OFFSET + (long) p * BlockStates.PAGE_BYTES);
            }
            ch.force(true);
            return new OverlayMap(path, ch, id);
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    static OverlayMap open(Path path, BlockStates into) throws IOException {
        FileChannel ch = FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE);
        try {
            ByteBuffer h = ByteBuffer.allocate(HEADER_BYTES + 4).order(ByteOrder.BIG_ENDIAN);
            readFully(ch, h, 0, path);
            h.flip();
            if (h.getLong(0) != MAGIC) {
                throw new LayerFormatException(path, "not an overlay map (bad magic)");
            }
            CRC32C crc = new CRC32C();
            crc.update(h.array(), 0, HEADER_BYTES);
            if (h.getInt(HEADER_BYTES) != (int) crc.getValue()) {
                throw new LayerFormatException(path, "overlay map header checksum mismatch");
            }
            if (h.getInt(8) != VERSION) {
                throw new LayerFormatException(path, "unsupported overlay map version " + h.getInt(8));
            }
            Identity id = new Identity(h.getInt(12), h.getLong(16), h.getLong(24), h.getLong(40),
                    new UUID(h.getLong(48), h.getLong(56)));
            return new OverlayMap(path, ch, id);
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    Identity identity() {
        return identity;
    }

    /** Reads every bitmap page into {@code states} (at open). */
    void load(BlockStates states) throws IOException {
        long need = BITMAP_OFFSET + (long) states.pages() * BlockStates.PAGE_BYTES;
        if (ch.size() < need) {
            throw new LayerFormatException(path, "overlay map truncated: " + ch.size() + " of " + need + " bytes");
        }
        for (int p = 0; p < states.pages(); p++) {
            page.clear();
            readFully(ch, page, BITMAP_OFFSET + (long) p * BlockStates.PAGE_BYTES, path);
            page.flip();
            states.loadPage(p, page);
        }
        String problem = states.validate();
        if (problem != null) {
            throw new LayerFormatException(path, problem);
        }
    }

    /** A copy of one bitmap page, taken before the data sync. */
    record PageCopy(int page, ByteBuffer bytes) {
    }

    /** Copies the pages changed since the last call (clearing their dirty marks first). */
    static List<PageCopy> snapshotDirty(BlockStates states) {
        List<PageCopy> out = new ArrayList<>();
        for (int p = 0; p < states.pages(); p++) {
            if (states.takeDirty(p)) {
                ByteBuffer b = ByteBuffer.allocate(BlockStates.PAGE_BYTES);
                states.copyPage(p, b);
                out.add(new PageCopy(p, b));
            }
        }
        return out;
    }

    /** Writes the copies in place and syncs the map file. */
    void persist(List<PageCopy> pages) throws IOException {
        if (pages.isEmpty()) {
            return;
        }
        for (PageCopy pc : pages) {
            writeFully(ch, pc.bytes().clear(), BITMAP_OFFSET + (long) pc.page() * BlockStates.PAGE_BYTES);
        }
        ch.force(false);
    }

    @Override
    public void close() throws IOException {
        ch.close();
    }

    static void writeFully(FileChannel ch, ByteBuffer b, long pos) throws IOException {
        long p = pos;
        while (b.hasRemaining()) {
            p += ch.write(b, p);
        }
    }

    static void readFully(FileChannel ch, ByteBuffer b, long pos, Path path) throws IOException {
        long p = pos;
        while (b.hasRemaining()) {
            int n = ch.read(b, p);
            if (n < 0) {
                throw new LayerFormatException(path, "truncated at " + p);
            }
            p += n;
        }
    }
}
