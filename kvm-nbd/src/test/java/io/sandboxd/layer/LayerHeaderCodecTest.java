package io.sandboxd.layer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LayerHeaderCodecTest {
    private static final Path F = Path.of("test.header");
    /** A third-generation memory layer reading from itself, zeros and an older layer. */
    private static final LayerHeader MEMORY = new LayerHeader(LayerKind.MEMORY, 4096, 5 * 4096L, 3, 0x1234, 0x99,
            table(Map.of(0x1234L, "0000000000001234.layer", 0x77L, "0000000000000077.layer")), List.of(
            new Extent(0, 4096, 0x1234, 8192), Extent.zero(4096, 8192), new Extent(12288, 8192, 0x77, 12288)));
    /** A sealed disk layer over a raw template image, its data file in another directory. */
    private static final LayerHeader DISK = new LayerHeader(LayerKind.DISK, 4096, 1 << 20, 2, 0xABCDL, 0x1L,
            table(Map.of(1L, "rootfs.img", 0xABCDL, "../sandboxes/x/rootfs.overlay")), List.of(
            new Extent(0, 8192, 1, 0), Extent.zero(8192, 4096), new Extent(12288, (1 << 20) - 12288, 0xABCD, 12288)));

    @TempDir
    Path tmp;

    @Test
    void roundTripsThroughBytesAndFiles() throws Exception {
        for (LayerHeader h : List.of(MEMORY, DISK)) {
            assertEquals(h, LayerHeaderCodec.decode(F, LayerHeaderCodec.encode(h)));
            Path file = tmp.resolve(h.kind() + ".header");
            LayerHeaderCodec.write(file, h);
            assertEquals(h, LayerHeaderCodec.read(file));
            assertEquals(h, LayerHeaderCodec.read(file, h.kind()));
            assertArrayEquals(LayerHeaderCodec.encode(h), Files.readAllBytes(file));
            assertTrue(Files.notExists(tmp.resolve(h.kind() + ".header.tmp")));
            assertTrue(LayerHeaderCodec.isLayerHeader(file));
        }
    }

    @Test
    void refusesTheOtherKindByName() {
        LayerFormatException e = assertThrows(LayerFormatException.class,
                () -> LayerHeaderCodec.decode(F, LayerHeaderCodec.encode(MEMORY), LayerKind.DISK));
        assertTrue(e.getMessage().contains("is a memory layer, but a disk layer is expected here"), e.getMessage());
        e = assertThrows(LayerFormatException.class,
                () -> LayerHeaderCodec.decode(F, LayerHeaderCodec.encode(DISK), LayerKind.MEMORY));
        assertTrue(e.getMessage().contains("is a disk layer, but a memory layer is expected here"), e.getMessage());
        ByteBuffer b = ByteBuffer.wrap(LayerHeaderCodec.encode(DISK)).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(12, 7);
        assertProblem(reseal(b.array()), "unknown layer kind 7");
    }

    @Test
    void refusesBadMagic() {
        byte[] b = LayerHeaderCodec.encode(MEMORY);
        b[0] = 'X';
        assertProblem(b, "bad magic");
    }

    @Test
    void refusesAnotherVersion() {
        byte[] b = LayerHeaderCodec.encode(MEMORY);
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putInt(8, 2);
        assertProblem(b, "format version 2, this build reads version 1");
    }

    @Test
    void refusesAFlippedBit() {
        byte[] b = LayerHeaderCodec.encode(MEMORY);
        b[70] ^= 0x10;
        assertProblem(b, "checksum mismatch");
    }

    @Test
    void everyTruncationAndEveryFlippedByteIsRefused() {
        for (LayerHeader h : List.of(MEMORY, DISK)) {
            byte[] good = LayerHeaderCodec.encode(h);
            for (int len = 0; len < good.length; len++) {
                int n = len;
                LayerFormatException e = assertThrows(LayerFormatException.class,
                        () -> LayerHeaderCodec.decode(F, Arrays.copyOf(good, n)), "truncated to " + len);
                assertTrue(e.getMessage().contains("truncated") || e.getMessage().contains("bad magic"),
                        e.getMessage());
            }
            assertProblem(Arrays.copyOf(good, good.length + 1), "trailing bytes");
            for (int i = 0; i < good.length; i++) {
                byte[] bad = good.clone();
                bad[i] ^= 0x40;
                assertThrows(LayerFormatException.class, () -> LayerHeaderCodec.decode(F, bad), "byte " + i + " flipped");
            }
        }
    }

    @Test
    void refusesCountsOverTheCapBeforeAllocating() {
        byte[] b = LayerHeaderCodec.encode(MEMORY);
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putInt(20, -1);
        assertProblem(b, "exceed the cap");
        b = LayerHeaderCodec.encode(MEMORY);
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putInt(56, -1);
        assertProblem(b, "exceed the cap");
        b = LayerHeaderCodec.encode(MEMORY);
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putInt(60, Integer.MAX_VALUE);
        assertProblem(b, "exceed the cap");
    }

    @Test
    void refusesInconsistentRangesEvenWithAValidChecksum() {
        ByteBuffer b = ByteBuffer.wrap(LayerHeaderCodec.encode(MEMORY)).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(64 + 32, 8192); // second range starts after a gap
        assertProblem(reseal(b.array()), "should start at 4096");

        b = ByteBuffer.wrap(LayerHeaderCodec.encode(MEMORY)).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(64 + 8, 100); // first range length not block aligned
        assertProblem(reseal(b.array()), "range at 0");

        b = ByteBuffer.wrap(LayerHeaderCodec.encode(MEMORY)).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(24, 6 * 4096L); // size larger than the ranges
        assertProblem(reseal(b.array()), "ranges cover 20480 bytes of 24576");

        b = ByteBuffer.wrap(LayerHeaderCodec.encode(MEMORY)).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(16, 1000); // block size
        assertProblem(reseal(b.array()), "block size 1000");

        b = ByteBuffer.wrap(LayerHeaderCodec.encode(MEMORY)).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(64 + 32 + 24, 4096); // a zero range with an offset in a layer
        assertProblem(reseal(b.array()), "range 1 is invalid");

        b = ByteBuffer.wrap(LayerHeaderCodec.encode(MEMORY)).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(64 + 2 * 32 + 16, 0x55); // a range in a layer the table does not list
        assertProblem(reseal(b.array()), "the layer table does not list");

        b = ByteBuffer.wrap(LayerHeaderCodec.encode(MEMORY)).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(48, 0); // generation 3 without a parent
        assertProblem(reseal(b.array()), "generation 3 with parent layer 0");

        b = ByteBuffer.wrap(LayerHeaderCodec.encode(DISK)).order(ByteOrder.LITTLE_ENDIAN);
        int table = 64 + 3 * 32;
        b.putShort(table + 8, (short) 60_000); // a name running past the table
        assertProblem(reseal(b.array()), "runs past the layer table");
    }

    @Test
    void theConstructorRefusesWhatTheReaderWould() {
        TreeMap<Long, String> l = table(Map.of(1L, "a"));
        assertThrows(IllegalArgumentException.class, () -> new LayerHeader(LayerKind.DISK, 4096, 8192, 1, 1, 0, l,
                List.of(new Extent(0, 4096, 1, 0))), "does not cover the image");
        assertThrows(IllegalArgumentException.class, () -> new LayerHeader(LayerKind.DISK, 4096, 8192, 1, 1, 0, l,
                List.of(new Extent(0, 4096, 1, 0), new Extent(2048, 6144, 1, 0))), "overlap");
        assertThrows(IllegalArgumentException.class, () -> new LayerHeader(LayerKind.DISK, 4096, 8192, 1, 1, 0, l,
                List.of(new Extent(0, 8192, 7, 0))), "unknown layer");
        assertThrows(IllegalArgumentException.class, () -> new LayerHeader(LayerKind.DISK, 4096, 8192, 1, 1, 0, l,
                List.of(new Extent(0, 1000, 1, 0), new Extent(1000, 7192, 1, 1000))), "unaligned");
        assertThrows(IllegalArgumentException.class, () -> new LayerHeader(LayerKind.DISK, 4096, 8192, 1, 1, 0,
                table(Map.of(0L, "z")), List.of(Extent.zero(0, 8192))), "layer id 0 is reserved");
        assertThrows(IllegalArgumentException.class, () -> new LayerHeader(LayerKind.MEMORY, 4096, 5000, 1, 1, 0, l,
                List.of(Extent.zero(0, 5000))), "memory is whole blocks");
    }

    @Test
    void aMissingFileIsAClearError() {
        LayerFormatException e = assertThrows(LayerFormatException.class,
                () -> LayerHeaderCodec.read(tmp.resolve("nope.header")));
        assertTrue(e.getMessage().contains("no such file"), e.getMessage());
    }

    static TreeMap<Long, String> table(Map<Long, String> m) {
        return new TreeMap<>(m);
    }

    private static byte[] reseal(byte[] b) {
        CRC32C crc = new CRC32C();
        crc.update(b, 0, b.length - 4);
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putInt(b.length - 4, (int) crc.getValue());
        return b;
    }

    private static void assertProblem(byte[] bytes, String expected) {
        LayerFormatException e = assertThrows(LayerFormatException.class, () -> LayerHeaderCodec.decode(F, bytes));
        assertTrue(e.getMessage().contains(expected), e.getMessage());
        assertTrue(e.getMessage().startsWith("layer file test.header: "), e.getMessage());
    }
}
