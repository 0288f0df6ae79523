package io.sandboxd.block.cow;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sandboxd.block.RandomImage;
import io.sandboxd.block.layer.LayeredImage;
import io.sandboxd.layer.LayerFormatException;
import io.sandboxd.layer.LayerHeader;
import io.sandboxd.layer.LayerKind;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OverlayTest {
    static final int MIB = 1 << 20;

    @TempDir
    Path dir;

    private Path base(int size, long seed) throws IOException {
        return RandomImage.write(dir, size, seed).path();
    }

    static byte[] read(io.sandboxd.block.BlockDevice d, long off, int len) throws IOException {
        ByteBuffer dst = ByteBuffer.allocate(len);
        d.read(off, len, new io.sandboxd.block.ReadSink() {
            @Override
            public void file(java.nio.channels.FileChannel f, java.lang.foreign.MemorySegment m, long pos, long n) throws IOException {
                LayeredImage.readFully(f, pos, dst, n);
            }

            @Override
            public void zeros(long n) {
                io.sandboxd.block.Zeros.put(dst, n);
            }
        });
        return dst.array();
    }

    /** Blocks actually allocated on disk (stat's 512-byte units), to see holes. */
    static long allocatedBytes(Path p) throws Exception {
        Process pr = new ProcessBuilder("stat", "-c", "%b", p.toString()).start();
        String s = new String(pr.getInputStream().readAllBytes()).trim();
        pr.waitFor();
        return Long.parseLong(s) * 512;
    }

    @Test
    void readsFallThroughAndWritesStayInTheOverlay() throws Exception {
        Path basePath = base(4 * MIB, 1);
        byte[] original = Files.readAllBytes(basePath);
        byte[] expect = original.clone();
        try (LayeredImage base = LayeredImage.raw(basePath, 4096);
                Overlay o = Overlay.create(dir.resolve("ov"), base)) {
            assertArrayEquals(original, read(o, 0, 4 * MIB));
            Random r = new Random(2);
            for (int i = 0; i < 300; i++) {
                int off = r.nextInt(4 * MIB - 70_000);
                int len = 1 + r.nextInt(70_000);
                byte[] data = new byte[len];
                r.nextBytes(data);
                o.write(off, ByteBuffer.wrap(data));
                System.arraycopy(data, 0, expect, off, len);
            }
            assertArrayEquals(expect, read(o, 0, 4 * MIB));
            assertArrayEquals(Arrays.copyOfRange(expect, 12_345, 12_345 + 99_999), read(o, 12_345, 99_999));
        }
        assertArrayEquals(original, Files.readAllBytes(basePath), "the base is never written");
    }

    @Test
    void zeroWritesAndTrimPunchHolesAndStopReadingTheBase() throws Exception {
        Path basePath = base(8 * MIB, 3);
        try (LayeredImage base = LayeredImage.raw(basePath, 4096);
                Overlay o = Overlay.create(dir.resolve("ov"), base)) {
            byte[] data = new byte[4 * MIB];
            new Random(4).nextBytes(data);
            o.write(0, ByteBuffer.wrap(data));
            o.flush();
            long full = allocatedBytes(dir.resolve("ov"));
            assertTrue(full >= 4 * MIB, "data written: " + full);

            o.write(0, ByteBuffer.allocate(MIB)); // all zeros: a hole, not a write
            o.trim(MIB, MIB);
            o.writeZeroes(2 * MIB, MIB, true);
            o.writeZeroes(5 * MIB, MIB, true); // over base blocks: ZERO without ever allocating
            o.flush();
            long after = allocatedBytes(dir.resolve("ov"));
            assertTrue(after <= full - 3 * MIB, "three MiB punched out: " + full + " -> " + after);
            assertArrayEquals(new byte[3 * MIB], read(o, 0, 3 * MIB));
            assertArrayEquals(new byte[MIB], read(o, 5 * MIB, MIB));
            for (long b = 0; b < 3 * MIB / 4096; b++) {
                assertEquals(BlockStates.ZERO, o.stateOf(b));
            }

            o.writeZeroes(6 * MIB, MIB, false); // NO_HOLE: allocated, reads zero
            o.flush();
            assertTrue(allocatedBytes(dir.resolve("ov")) >= after + MIB, "NO_HOLE keeps the range allocated");
            assertArrayEquals(new byte[MIB], read(o, 6 * MIB, MIB));
            assertEquals(BlockStates.DATA, o.stateOf(6 * MIB / 4096));

            // Unaligned zeroing keeps the neighbouring bytes of the base.
            byte[] baseBytes = Files.readAllBytes(basePath);
            o.writeZeroes(7 * MIB + 100, 5000, true);
            byte[] got = read(o, 7 * MIB, 8192);
            byte[] want = Arrays.copyOfRange(baseBytes, 7 * MIB, 7 * MIB + 8192);
            Arrays.fill(want, 100, 5100, (byte) 0);
            assertArrayEquals(want, got);
        }
    }

    @Test
    void flushedStateSurvivesReopenAndAMismatchedBaseIsRefused() throws Exception {
        Path basePath = base(2 * MIB, 5);
        byte[] expect = Files.readAllBytes(basePath);
        try (LayeredImage base = LayeredImage.raw(basePath, 4096);
                Overlay o = Overlay.create(dir.resolve("ov"), base)) {
            o.write(4096, ByteBuffer.wrap(ImageHeaderTestData.bytes(10_000, (byte) 7)));
            Arrays.fill(expect, 4096, 14_096, (byte) 7);
            o.trim(MIB, 8192);
            Arrays.fill(expect, MIB, MIB + 8192, (byte) 0);
        }
        try (LayeredImage base = LayeredImage.raw(basePath, 4096);
                Overlay o = Overlay.open(dir.resolve("ov"), base)) {
            assertArrayEquals(expect, read(o, 0, 2 * MIB));
        }
        Path other = dir.resolve("other.img");
        Files.write(other, new byte[2 * MIB]);
        try (LayeredImage wrong = LayeredImage.raw(other, 4096)) {
            LayerFormatException e = assertThrows(LayerFormatException.class, () -> Overlay.open(dir.resolve("ov"), wrong));
            assertTrue(e.getMessage().contains("made over base layer"), e.getMessage());
        }
    }

    @Test
    void sealingChainsLayersAcrossGenerations() throws Exception {
        Path basePath = base(2 * MIB, 6);
        byte[] expect = Files.readAllBytes(basePath);
        Random r = new Random(7);
        LayeredImage current = LayeredImage.raw(basePath, 4096);
        for (int gen = 1; gen <= 10; gen++) {
            Path ov = dir.resolve("gen" + gen + ".overlay");
            try (Overlay o = Overlay.create(ov, current)) {
                for (int i = 0; i < 20; i++) {
                    int off = r.nextInt(2 * MIB - 9000);
                    byte[] d = new byte[1 + r.nextInt(9000)];
                    r.nextBytes(d);
                    o.write(off, ByteBuffer.wrap(d));
                    System.arraycopy(d, 0, expect, off, d.length);
                }
                int z = r.nextInt(2 * MIB / 4096 - 4) * 4096;
                o.trim(z, 8192);
                Arrays.fill(expect, z, z + 8192, (byte) 0);
                LayerHeader h = o.seal(dir.resolve("gen" + gen + ".header"));
                assertEquals(LayerKind.DISK, h.kind());
                assertEquals(gen + 1, h.generation(), "a raw base is generation 1, each seal adds one");
                assertEquals(current.header().layerId(), h.parentLayerId(), "chained to the layer it was made over");
                assertThrows(IllegalStateException.class, () -> o.write(0, ByteBuffer.allocate(1)));
            }
            Files.delete(Overlay.mapPath(ov));
            current.close();
            current = LayeredImage.open(dir.resolve("gen" + gen + ".header"));
            assertArrayEquals(expect, read(current, 0, 2 * MIB), "generation " + gen);
        }
        current.close();
    }

    @Test
    void concurrentPartialWritesToOneBlockAllSurvive() throws Exception {
        Path basePath = base(MIB, 8);
        byte[] expect = Files.readAllBytes(basePath);
        try (LayeredImage base = LayeredImage.raw(basePath, 4096);
                Overlay o = Overlay.create(dir.resolve("ov"), base)) {
            ExecutorService pool = Executors.newFixedThreadPool(8);
            try {
                for (int round = 0; round < 20; round++) {
                    long block = round * 4096L;
                    Future<?>[] fs = new Future<?>[8];
                    for (int t = 0; t < 8; t++) {
                        int part = t;
                        fs[t] = pool.submit(() -> {
                            o.write(block + part * 512L, ByteBuffer.wrap(ImageHeaderTestData.bytes(512, (byte) (part + 1))));
                            return null;
                        });
                        Arrays.fill(expect, (int) block + part * 512, (int) block + part * 512 + 512, (byte) (part + 1));
                    }
                    for (Future<?> f : fs) {
                        f.get();
                    }
                }
            } finally {
                pool.shutdown();
            }
            assertArrayEquals(expect, read(o, 0, MIB));
        }
    }

    @Test
    void closingReleasesEveryFileDescriptor() throws Exception {
        Path basePath = base(MIB, 9);
        long before = openFds();
        for (int i = 0; i < 20; i++) {
            try (LayeredImage base = LayeredImage.raw(basePath, 4096);
                    Overlay o = i == 0 ? Overlay.create(dir.resolve("ov"), base) : Overlay.open(dir.resolve("ov"), base)) {
                o.write(i * 4096L, ByteBuffer.wrap(ImageHeaderTestData.bytes(4096, (byte) i)));
            }
        }
        assertEquals(before, openFds());
    }

    static long openFds() throws IOException {
        try (var s = Files.list(Path.of("/proc/self/fd"))) {
            return s.count();
        }
    }

    /** Small byte-array helpers shared by the tests here. */
    static final class ImageHeaderTestData {
        static byte[] bytes(int n, byte b) {
            byte[] a = new byte[n];
            Arrays.fill(a, b);
            return a;
        }
    }
}
