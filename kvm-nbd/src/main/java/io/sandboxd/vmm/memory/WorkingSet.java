package io.sandboxd.vmm.memory;

import io.sandboxd.vmm.snapshot.MemoryImage;
import io.sandboxd.layer.LayerFormatException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Collections;
import java.util.Map;
import java.util.WeakHashMap;
import java.util.zip.CRC32C;

/**
 * The pages a restored guest needed, in the order it first touched them: saved next to a memory image so the
 * next restore can copy them in before the guest runs. Little endian: magic {@code "SBXWSET1"}, version u32 (1),
 * count u32, count × page number u32, CRC32C u32 of everything before it.
 */
public final class WorkingSet {
    private static final byte[] MAGIC = {'S', 'B', 'X', 'W', 'S', 'E', 'T', '1'};
    private static final int VERSION = 1;

    /**
     * Working sets already read, per opened image: every restore of a template needs its working set, and reading
     * and checking the file each time would cost more than the rest of a uffd restore. Weak keys: forgotten with
     * the image.
     */
    private static final Map<MemoryImage, int[]> CACHE = Collections.synchronizedMap(new WeakHashMap<>());

    private WorkingSet() {
    }

    /** {@code image}'s recorded working set (empty when none), read once per image object. */
    static int[] of(MemoryImage image, long pageCount) throws IOException {
        int[] pages = CACHE.get(image);
        if (pages == null) {
            pages = read(image.workingSetPath(), pageCount);
            CACHE.put(image, pages);
        }
        return pages;
    }

    /** Writes {@code image}'s working set and makes later restores of the same image object use it. */
    static void save(MemoryImage image, int[] pages, long pageCount) throws IOException {
        write(image.workingSetPath(), pages, pageCount);
        CACHE.put(image, pages.clone());
    }

    public static void write(Path file, int[] pages, long pageCount) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(16 + 4 * pages.length + 4).order(ByteOrder.LITTLE_ENDIAN);
        b.put(MAGIC).putInt(VERSION).putInt(pages.length);
        for (int p : pages) {
            if (p < 0 || p >= pageCount) {
                throw new IllegalArgumentException("page " + p + " outside " + pageCount + " pages");
            }
            b.putInt(p);
        }
        CRC32C crc = new CRC32C();
        crc.update(b.array(), 0, b.position());
        b.putInt((int) crc.getValue());
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        Files.write(tmp, b.array());
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    /** The recorded pages, or an empty array when none was recorded; a damaged file is refused. */
    public static int[] read(Path file, long pageCount) throws IOException {
        if (!file.toFile().exists()) { // a stat, no exception: this is on every uffd restore's path
            return new int[0];
        }
        long size = Files.size(file);
        if (size > 20 + 4 * pageCount) {
            throw new LayerFormatException(file, size + " bytes is more than a working set of " + pageCount + " pages");
        }
        byte[] bytes = Files.readAllBytes(file);
        if (bytes.length < 20) {
            throw new LayerFormatException(file, "truncated working set: " + bytes.length + " bytes");
        }
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        byte[] magic = new byte[8];
        b.get(magic);
        if (!java.util.Arrays.equals(magic, MAGIC)) {
            throw new LayerFormatException(file, "not a working set file (bad magic)");
        }
        int version = b.getInt();
        if (version != VERSION) {
            throw new LayerFormatException(file, "working set version " + version + ", this build reads " + VERSION);
        }
        long count = Integer.toUnsignedLong(b.getInt());
        if (bytes.length != 20 + 4 * count) {
            throw new LayerFormatException(file, "truncated working set: " + bytes.length + " bytes for " + count + " pages");
        }
        CRC32C crc = new CRC32C();
        crc.update(bytes, 0, bytes.length - 4);
        if (ByteBuffer.wrap(bytes, bytes.length - 4, 4).order(ByteOrder.LITTLE_ENDIAN).getInt() != (int) crc.getValue()) {
            throw new LayerFormatException(file, "working set checksum mismatch: the file is corrupt");
        }
        int[] pages = new int[(int) count];
        for (int i = 0; i < count; i++) {
            pages[i] = b.getInt();
            if (pages[i] < 0 || pages[i] >= pageCount) {
                throw new LayerFormatException(file, "page " + Integer.toUnsignedString(pages[i]) + " outside the image's "
                        + pageCount + " pages");
            }
        }
        return pages;
    }
}
