package io.sandboxd.block.layer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ImageHeaderTest {
    @TempDir
    Path dir;

    private static ImageHeader sample() {
        Map<Long, String> layers = new LinkedHashMap<>();
        layers.put(1L, "rootfs.img");
        layers.put(2L, "../sandboxes/x/rootfs.overlay");
        return new ImageHeader(4096, 1 << 20, 2, UUID.randomUUID(), layers, List.of(
                new Extent(0, 8192, 1, 0),
                Extent.zero(8192, 4096),
                new Extent(12288, (1 << 20) - 12288, 2, 12288)));
    }

    @Test
    void roundTripsThroughAFile() throws Exception {
        ImageHeader h = sample();
        Path f = dir.resolve("rootfs.header");
        h.write(f);
        assertEquals(h, ImageHeader.read(f));
        assertTrue(Files.notExists(dir.resolve("rootfs.header.tmp")));
    }

    @Test
    void everyTruncationAndEveryFlippedByteIsRejected() {
        byte[] good = sample().encode();
        Path f = dir.resolve("h");
        for (int len = 0; len < good.length; len++) {
            byte[] cut = Arrays.copyOf(good, len);
            assertThrows(ImageFormatException.class, () -> ImageHeader.decode(f, cut), "truncated to " + len);
        }
        for (int i = 0; i < good.length; i++) {
            byte[] bad = good.clone();
            bad[i] ^= 0x40;
            assertThrows(ImageFormatException.class, () -> ImageHeader.decode(f, bad), "byte " + i + " flipped");
        }
    }

    @Test
    void inconsistentExtentsAreRefused() {
        Map<Long, String> l = Map.of(1L, "a");
        UUID id = UUID.randomUUID();
        assertThrows(IllegalArgumentException.class, () -> new ImageHeader(4096, 8192, 0, id, l,
                List.of(new Extent(0, 4096, 1, 0))), "does not cover the image");
        assertThrows(IllegalArgumentException.class, () -> new ImageHeader(4096, 8192, 0, id, l,
                List.of(new Extent(0, 4096, 1, 0), new Extent(2048, 6144, 1, 0))), "overlap");
        assertThrows(IllegalArgumentException.class, () -> new ImageHeader(4096, 8192, 0, id, l,
                List.of(new Extent(0, 8192, 7, 0))), "unknown layer");
        assertThrows(IllegalArgumentException.class, () -> new ImageHeader(4096, 8192, 0, id, l,
                List.of(new Extent(0, 1000, 1, 0), new Extent(1000, 7192, 1, 1000))), "unaligned");
        assertThrows(IllegalArgumentException.class, () -> new ImageHeader(4096, 8192, 0, id, Map.of(0L, "z"),
                List.of(Extent.zero(0, 8192))), "layer id 0 is reserved");
    }

    @Test
    void lookupsResolveAcrossLayers() throws Exception {
        Files.write(dir.resolve("a"), filled(8192, (byte) 'a'));
        Files.write(dir.resolve("b"), filled(4096, (byte) 'b'));
        ImageHeader h = new ImageHeader(4096, 16384, 1, UUID.randomUUID(), Map.of(1L, "a", 2L, "b"), List.of(
                new Extent(0, 4096, 1, 4096), new Extent(4096, 4096, 2, 0), Extent.zero(8192, 4096),
                new Extent(12288, 4096, 1, 8192 /* past the end of a: reads zeros */)));
        h.write(dir.resolve("img.header"));
        try (LayeredImage img = LayeredImage.open(dir.resolve("img.header"))) {
            java.nio.ByteBuffer all = java.nio.ByteBuffer.allocate(16384);
            img.readInto(0, all);
            byte[] want = new byte[16384];
            Arrays.fill(want, 0, 4096, (byte) 'a');
            Arrays.fill(want, 4096, 8192, (byte) 'b');
            assertEquals(0, Arrays.compare(want, all.array()));
            assertThrows(IllegalArgumentException.class, () -> img.readInto(16000, java.nio.ByteBuffer.allocate(1000)));
        }
    }

    static byte[] filled(int n, byte b) {
        byte[] a = new byte[n];
        Arrays.fill(a, b);
        return a;
    }
}
