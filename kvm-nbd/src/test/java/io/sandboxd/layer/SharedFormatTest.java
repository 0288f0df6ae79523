package io.sandboxd.layer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sandboxd.block.cow.Overlay;
import io.sandboxd.block.layer.LayeredImage;
import io.sandboxd.vmm.snapshot.LayerWriter;
import io.sandboxd.vmm.snapshot.MemoryImage;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.BitSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Disk layers (sealed overlays) and memory layers (snapshots) are one format, told apart by their kind. */
class SharedFormatTest {
    private static final int BS = 4096;

    @TempDir
    Path dir;

    @Test
    void aSealedDiskLayerAndAMemoryLayerAreReadByTheSameCodec() throws Exception {
        Path diskHeader = sealedDiskLayer();
        Path memoryHeader = memoryDiffLayer();

        LayerHeader disk = LayerHeaderCodec.read(diskHeader);
        LayerHeader memory = LayerHeaderCodec.read(memoryHeader);
        assertEquals(LayerKind.DISK, disk.kind());
        assertEquals(LayerKind.MEMORY, memory.kind());
        for (LayerHeader h : new LayerHeader[] {disk, memory}) {
            // Both are a second generation chained to their base by the parent link, mapping blocks to layers.
            assertEquals(2, h.generation());
            assertTrue(h.parentLayerId() != Extent.ZERO_LAYER && h.parentLayerId() != h.layerId());
            assertTrue(h.layers().containsKey(h.layerId()), "the own layer is in the table: " + h.layers());
            assertTrue(h.extents().stream().anyMatch(e -> e.layerId() == h.layerId()), h.extents().toString());
            assertTrue(h.extents().stream().anyMatch(e -> e.layerId() == h.parentLayerId()), h.extents().toString());
            assertEquals(h, LayerHeaderCodec.decode(Path.of("x"), LayerHeaderCodec.encode(h)));
        }
        // And each reader opens its own kind.
        try (LayeredImage img = LayeredImage.open(diskHeader)) {
            ByteBuffer b = ByteBuffer.allocate(BS);
            img.readInto(BS, b);
            assertEquals(7, b.get(0));
        }
        assertEquals(memory, MemoryImage.open(memoryHeader).header());
    }

    @Test
    void aMemoryLayerIsRefusedWhereADiskLayerIsExpected() throws Exception {
        Path memoryHeader = memoryDiffLayer();
        LayerFormatException e = assertThrows(LayerFormatException.class, () -> LayeredImage.open(memoryHeader));
        assertTrue(e.getMessage().contains("is a memory layer, but a disk layer is expected here"), e.getMessage());
        // openAny sees the magic and reads it as a header: refused the same way, never served as a raw image.
        e = assertThrows(LayerFormatException.class, () -> LayeredImage.openAny(memoryHeader, BS));
        assertTrue(e.getMessage().contains("is a memory layer"), e.getMessage());
    }

    @Test
    void aDiskLayerIsRefusedWhereAMemoryLayerIsExpected() throws Exception {
        Path diskHeader = sealedDiskLayer();
        LayerFormatException e = assertThrows(LayerFormatException.class, () -> MemoryImage.open(diskHeader));
        assertTrue(e.getMessage().contains("is a disk layer, but a memory layer is expected here"), e.getMessage());
    }

    private Path sealedDiskLayer() throws Exception {
        Path base = dir.resolve("rootfs.img");
        byte[] content = new byte[16 * BS];
        Arrays.fill(content, (byte) 3);
        Files.write(base, content);
        Path header = dir.resolve("rootfs.header");
        try (LayeredImage img = LayeredImage.raw(base, BS); Overlay o = Overlay.create(dir.resolve("rootfs.overlay"), img)) {
            byte[] block = new byte[BS];
            Arrays.fill(block, (byte) 7);
            o.write(BS, ByteBuffer.wrap(block));
            o.seal(header);
        }
        return header;
    }

    private Path memoryDiffLayer() throws Exception {
        Path memDir = dir.resolve("mem");
        byte[] mem = new byte[8 * BS];
        Arrays.fill(mem, (byte) 1);
        MemoryImage base = LayerWriter.writeBase(memDir, MemorySegment.ofArray(mem), BS);
        Arrays.fill(mem, 2 * BS, 3 * BS, (byte) 9);
        BitSet dirty = new BitSet();
        dirty.set(2);
        return LayerWriter.writeDiff(base, MemorySegment.ofArray(mem), dirty).headerPath();
    }
}
