package io.sandboxd.vmm.snapshot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sandboxd.layer.LayerFormatException;
import java.io.RandomAccessFile;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.BitSet;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MemoryImageTest {
    private static final int BS = 4096;

    @TempDir
    Path dir;

    @Test
    void aBaseImageRoundTripsAndStoresNoZeroBlocks() throws Exception {
        byte[] mem = new byte[64 * BS];
        fill(mem, 3, 7);
        fill(mem, 4, 8);
        fill(mem, 63, 9);
        MemoryImage image = LayerWriter.writeBase(dir, MemorySegment.ofArray(mem), BS);
        assertEquals(1, image.generation());
        assertEquals(4, image.header().extents().size(), image.header().extents().toString()); // zero, data, zero, data
        assertEquals(mem.length, Files.size(image.layerPath(image.layerId())));
        MemoryImage reopened = MemoryImage.open(image.headerPath());
        assertEquals(image.header(), reopened.header());
        assertContent(reopened, mem);
        assertTrue(reopened.resolve(0).isZero());
        assertEquals(3 * BS, reopened.resolve(0).length());
        MemoryImage.Location l = reopened.resolve(4 * BS + 10);
        assertEquals(4 * BS + 10, l.offsetInFile());
        assertEquals(BS - 10, l.length());
    }

    @Test
    void aDiffHoldsExactlyThePagesWritten() throws Exception {
        byte[] mem = new byte[256 * BS];
        for (int p = 0; p < 256; p += 2) {
            fill(mem, p, p + 1);
        }
        MemoryImage base = LayerWriter.writeBase(dir, MemorySegment.ofArray(mem), BS);
        BitSet dirty = new BitSet();
        for (int p : new int[] {1, 2, 3, 100, 101, 255}) {
            fill(mem, p, 200 + p);
            dirty.set(p);
        }
        Arrays.fill(mem, 50 * BS, 51 * BS, (byte) 0); // written to zero: a zero range, no data
        dirty.set(50);
        MemoryImage diff = LayerWriter.writeDiff(base, MemorySegment.ofArray(mem), dirty);
        assertEquals(2, diff.generation());
        assertEquals(base.layerId(), diff.header().parentLayerId());
        assertEquals(6L * BS, Files.size(diff.layerPath(diff.layerId())));
        assertEquals(6L * BS, diff.header().bytesInLayer(diff.layerId()));
        assertTrue(diff.resolve(50 * BS).isZero());
        assertEquals(diff.layerPath(diff.layerId()), diff.resolve(100 * BS).file());
        assertEquals(base.layerPath(base.layerId()), diff.resolve(98 * BS).file());
        assertContent(MemoryImage.open(diff.headerPath()), mem);
        assertEquals(base.header(), MemoryImage.open(diff.headerPath()).baseHeader());
    }

    @Test
    void generationTwoAndTenChainsResolveCorrectly() throws Exception {
        Random rnd = new Random(42);
        byte[] mem = new byte[512 * BS];
        for (int p = 0; p < 512; p += 3) {
            fill(mem, p, rnd.nextInt(250) + 1);
        }
        MemoryImage image = LayerWriter.writeBase(dir, MemorySegment.ofArray(mem), BS);
        for (int gen = 2; gen <= 10; gen++) {
            BitSet dirty = new BitSet();
            for (int i = 0; i < 40; i++) {
                int p = rnd.nextInt(512);
                int run = 1 + rnd.nextInt(4);
                for (int q = p; q < Math.min(512, p + run); q++) {
                    if (rnd.nextInt(8) == 0) {
                        Arrays.fill(mem, q * BS, (q + 1) * BS, (byte) 0);
                    } else {
                        fill(mem, q, rnd.nextInt(250) + 1);
                    }
                    dirty.set(q);
                }
            }
            image = LayerWriter.writeDiff(image, MemorySegment.ofArray(mem), dirty);
            assertEquals(gen, image.generation());
            MemoryImage reopened = MemoryImage.open(image.headerPath());
            if (gen == 2 || gen == 10) {
                assertContent(reopened, mem);
            }
        }
        MemoryImage top = MemoryImage.open(image.headerPath());
        assertTrue(top.layerIds().size() > 2, "a tenth generation reads from several layers: " + top.layerIds());
        assertEquals(1, top.baseHeader().generation());
    }

    @Test
    void aMissingOrTruncatedLayerIsRefusedWhenOpening() throws Exception {
        byte[] mem = new byte[8 * BS];
        fill(mem, 7, 1);
        MemoryImage base = LayerWriter.writeBase(dir, MemorySegment.ofArray(mem), BS);
        BitSet dirty = new BitSet();
        dirty.set(2);
        fill(mem, 2, 5);
        MemoryImage diff = LayerWriter.writeDiff(base, MemorySegment.ofArray(mem), dirty);
        try (RandomAccessFile f = new RandomAccessFile(diff.layerPath(diff.layerId()).toFile(), "rw")) {
            f.setLength(100);
        }
        LayerFormatException e = assertThrows(LayerFormatException.class, () -> MemoryImage.open(diff.headerPath()));
        assertTrue(e.getMessage().contains("truncated: 100 bytes, the header needs 4096"), e.getMessage());
        Files.delete(base.layerPath(base.layerId()));
        e = assertThrows(LayerFormatException.class, () -> MemoryImage.open(base.headerPath()));
        assertTrue(e.getMessage().contains("is missing"), e.getMessage());
    }

    static void fill(byte[] mem, int page, int value) {
        for (int i = 0; i < BS; i++) {
            mem[page * BS + i] = (byte) (value + i * 31);
        }
        mem[page * BS] = (byte) value; // never an all-zero page
        if (value == 0) {
            mem[page * BS] = 1;
        }
    }

    /** Reads every block through the resolver (not through the writer's own bookkeeping) and compares. */
    static void assertContent(MemoryImage image, byte[] expected) throws Exception {
        byte[] got = new byte[expected.length];
        long off = 0;
        while (off < expected.length) {
            MemoryImage.Location l = image.resolve(off);
            if (!l.isZero()) {
                try (RandomAccessFile f = new RandomAccessFile(l.file().toFile(), "r")) {
                    f.seek(l.offsetInFile());
                    f.readFully(got, (int) off, (int) l.length());
                }
            }
            off += l.length();
        }
        for (int p = 0; p < expected.length / BS; p++) {
            assertEquals(-1, Arrays.mismatch(expected, p * BS, (p + 1) * BS, got, p * BS, (p + 1) * BS), "page " + p);
        }
    }
}
