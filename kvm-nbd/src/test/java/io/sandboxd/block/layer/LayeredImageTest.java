package io.sandboxd.block.layer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sandboxd.layer.Extent;
import io.sandboxd.layer.LayerFormatException;
import io.sandboxd.layer.LayerHeader;
import io.sandboxd.layer.LayerHeaderCodec;
import io.sandboxd.layer.LayerKind;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LayeredImageTest {
    @TempDir
    Path dir;

    @Test
    void lookupsResolveAcrossLayers() throws Exception {
        Files.write(dir.resolve("a"), filled(8192, (byte) 'a'));
        Files.write(dir.resolve("b"), filled(4096, (byte) 'b'));
        TreeMap<Long, String> layers = new TreeMap<>();
        layers.put(1L, "a");
        layers.put(2L, "b");
        LayerHeader h = new LayerHeader(LayerKind.DISK, 4096, 16384, 2, 2, 1, layers, List.of(
                new Extent(0, 4096, 1, 4096), new Extent(4096, 4096, 2, 0), Extent.zero(8192, 4096),
                new Extent(12288, 4096, 1, 8192 /* past the end of a: reads zeros */)));
        LayerHeaderCodec.write(dir.resolve("img.header"), h);
        try (LayeredImage img = LayeredImage.open(dir.resolve("img.header"))) {
            assertEquals(h, img.header());
            ByteBuffer all = ByteBuffer.allocate(16384);
            img.readInto(0, all);
            byte[] want = new byte[16384];
            Arrays.fill(want, 0, 4096, (byte) 'a');
            Arrays.fill(want, 4096, 8192, (byte) 'b');
            assertEquals(0, Arrays.compare(want, all.array()));
            ByteBuffer middle = ByteBuffer.allocate(4096);
            img.readInto(2048, middle);
            assertEquals(-1, Arrays.mismatch(want, 2048, 6144, middle.array(), 0, 4096));
            assertThrows(IllegalArgumentException.class, () -> img.readInto(16000, ByteBuffer.allocate(1000)));
            assertEquals(List.of(new Extent(6144, 2048, 2, 2048), Extent.zero(8192, 1000)), img.extentsIn(6144, 9192));
        }
    }

    @Test
    void aMissingLayerFileIsRefusedWhenOpening() throws Exception {
        LayerHeaderCodec.write(dir.resolve("img.header"),
                LayerHeader.single(LayerKind.DISK, 4096, 8192, 5, "gone.img"));
        LayerFormatException e = assertThrows(LayerFormatException.class,
                () -> LayeredImage.open(dir.resolve("img.header")));
        assertTrue(e.getMessage().contains("is missing"), e.getMessage());
    }

    @Test
    void openAnyTellsAHeaderFromARawImage() throws Exception {
        Path raw = dir.resolve("raw.img");
        Files.write(raw, filled(5000, (byte) 'r')); // not a whole number of blocks: the last extent ends short
        LayerHeaderCodec.write(dir.resolve("img.header"),
                LayerHeader.single(LayerKind.DISK, 4096, 5000, 9, "raw.img"));
        try (LayeredImage a = LayeredImage.openAny(raw, 4096);
                LayeredImage b = LayeredImage.openAny(dir.resolve("img.header"), 4096)) {
            assertEquals(raw.toAbsolutePath(), a.location());
            assertEquals(9, b.header().layerId());
            ByteBuffer x = ByteBuffer.allocate(5000);
            ByteBuffer y = ByteBuffer.allocate(5000);
            a.readInto(0, x);
            b.readInto(0, y);
            assertEquals(ByteBuffer.wrap(filled(5000, (byte) 'r')), x.flip());
            assertEquals(x, y.flip());
        }
        try (LayeredImage again = LayeredImage.raw(raw, 4096); LayeredImage once = LayeredImage.raw(raw, 4096)) {
            assertEquals(once.header().layerId(), again.header().layerId(), "a raw image's derived id is stable");
        }
    }

    static byte[] filled(int n, byte b) {
        byte[] a = new byte[n];
        Arrays.fill(a, b);
        return a;
    }
}
