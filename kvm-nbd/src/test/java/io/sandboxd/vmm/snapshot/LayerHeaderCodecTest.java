package io.sandboxd.vmm.snapshot;

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
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LayerHeaderCodecTest {
    private static final Path F = Path.of("test.header");
    private static final LayerHeader H = new LayerHeader(4096, 5 * 4096L, 3, 0x1234, 0x99, List.of(
            new Extent(0, 4096, 0x1234, 8192), Extent.zero(4096, 8192), new Extent(12288, 8192, 0x77, 12288)));

    @TempDir
    Path tmp;

    @Test
    void roundTripsThroughBytesAndFiles() throws Exception {
        assertEquals(H, LayerHeaderCodec.decode(F, LayerHeaderCodec.encode(H)));
        Path file = tmp.resolve("h.header");
        LayerHeaderCodec.write(file, H);
        assertEquals(H, LayerHeaderCodec.read(file));
        assertArrayEquals(LayerHeaderCodec.encode(H), Files.readAllBytes(file));
    }

    @Test
    void refusesBadMagic() {
        byte[] b = LayerHeaderCodec.encode(H);
        b[0] = 'X';
        assertProblem(b, "bad magic");
    }

    @Test
    void refusesAnotherVersion() {
        byte[] b = LayerHeaderCodec.encode(H);
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putInt(8, 2);
        assertProblem(b, "format version 2, this build reads version 1");
    }

    @Test
    void refusesAFlippedBit() {
        byte[] b = LayerHeaderCodec.encode(H);
        b[70] ^= 0x10;
        assertProblem(b, "checksum mismatch");
    }

    @Test
    void refusesTruncatedFilesAtEveryLength() {
        byte[] b = LayerHeaderCodec.encode(H);
        for (int len = 0; len < b.length; len++) {
            int n = len;
            SnapshotFormatException e = assertThrows(SnapshotFormatException.class,
                    () -> LayerHeaderCodec.decode(F, Arrays.copyOf(b, n)));
            assertTrue(e.getMessage().contains("truncated"), e.getMessage());
        }
        assertProblem(Arrays.copyOf(b, b.length + 1), "trailing bytes");
    }

    @Test
    void refusesARangeCountOverTheCapBeforeAllocating() {
        byte[] b = LayerHeaderCodec.encode(H);
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putInt(48, -1);
        assertProblem(b, "exceed the cap");
    }

    @Test
    void refusesInconsistentRangesEvenWithAValidChecksum() {
        ByteBuffer b = ByteBuffer.wrap(LayerHeaderCodec.encode(H)).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(56 + 32, 8192); // second range starts after a gap
        assertProblem(reseal(b.array()), "should start at 4096");

        b = ByteBuffer.wrap(LayerHeaderCodec.encode(H)).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(56 + 8, 100); // first range length not block aligned
        assertProblem(reseal(b.array()), "range at 0");

        b = ByteBuffer.wrap(LayerHeaderCodec.encode(H)).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(16, 6 * 4096L); // size larger than the ranges
        assertProblem(reseal(b.array()), "ranges cover 20480 bytes of 24576");

        b = ByteBuffer.wrap(LayerHeaderCodec.encode(H)).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(12, 1000); // block size
        assertProblem(reseal(b.array()), "block size 1000");

        b = ByteBuffer.wrap(LayerHeaderCodec.encode(H)).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(56 + 32 + 24, 4096); // a zero range with an offset in a layer
        assertProblem(reseal(b.array()), "range 1 is invalid");
    }

    @Test
    void aMissingFileIsAClearError() {
        SnapshotFormatException e = assertThrows(SnapshotFormatException.class,
                () -> MemoryImage.open(tmp.resolve("nope.header")));
        assertTrue(e.getMessage().contains("no such file"), e.getMessage());
    }

    private static byte[] reseal(byte[] b) {
        CRC32C crc = new CRC32C();
        crc.update(b, 0, b.length - 4);
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putInt(b.length - 4, (int) crc.getValue());
        return b;
    }

    private static void assertProblem(byte[] bytes, String expected) {
        SnapshotFormatException e = assertThrows(SnapshotFormatException.class, () -> LayerHeaderCodec.decode(F, bytes));
        assertTrue(e.getMessage().contains(expected), e.getMessage());
        assertTrue(e.getMessage().startsWith("memory image test.header: "), e.getMessage());
    }
}
