package io.sandboxd.block.nbd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sandboxd.block.cow.Overlay;
import io.sandboxd.block.layer.LayeredImage;
import java.io.RandomAccessFile;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * Real NBD clients from Debian against our server, on a 1 GiB image: qemu-io writes through the overlay, checked
 * with qemu-img compare against a reference file written by the same commands; nbdcopy round trips (nbdcopy opens
 * several connections, since we advertise multi-conn); discards and zero writes as holes in the overlay file;
 * concurrent clients; nbdinfo's view of sizes, block sizes and the export list.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class NbdClientToolsTest {
    static final long GIB = 1L << 30;
    static final long MIB = 1L << 20;

    @TempDir
    static Path dir;
    static Path basePath;
    static Path reference;
    static LayeredImage base;
    static Overlay overlay;
    static NbdServer server;
    static String uri;

    @BeforeAll
    static void start() throws Exception {
        Tools.require("qemu-io", "qemu-img", "nbdinfo", "nbdcopy");
        basePath = dir.resolve("template.img");
        // 1 GiB, sparse, with random data in every 32nd MiB (so reads through the base see real bytes).
        try (RandomAccessFile f = new RandomAccessFile(basePath.toFile(), "rw")) {
            f.setLength(GIB);
            Random r = new Random(1);
            byte[] chunk = new byte[(int) MIB];
            for (long at = 0; at < GIB; at += 32 * MIB) {
                r.nextBytes(chunk);
                f.seek(at);
                f.write(chunk);
            }
        }
        reference = dir.resolve("reference.img");
        Tools.ok("cp", "--sparse=always", basePath.toString(), reference.toString());
        base = LayeredImage.raw(basePath, 4096);
        overlay = Overlay.create(dir.resolve("sandbox.overlay"), base);
        server = NbdServer.start(new InetSocketAddress("127.0.0.1", 0),
                List.of(new Export("sandbox", "sandbox overlay", overlay), new Export("template", "template image", base)),
                NbdLimits.DEFAULT);
        uri = "nbd://127.0.0.1:" + server.port() + "/sandbox";
    }

    @AfterAll
    static void stop() throws Exception {
        if (server != null) {
            server.close();
            overlay.close();
            base.close();
        }
    }

    /** The same qemu-io commands against our export and against the reference file. */
    static void both(List<String> commands) throws Exception {
        List<String> nbd = new ArrayList<>(List.of("qemu-io", "-f", "raw"));
        List<String> ref = new ArrayList<>(List.of("qemu-io", "-f", "raw"));
        for (String c : commands) {
            nbd.add("-c");
            nbd.add(c);
            ref.add("-c");
            ref.add(c);
        }
        nbd.add(uri);
        ref.add(reference.toString());
        Tools.Result a = Tools.run(nbd);
        assertEquals(0, a.exit(), a.output());
        assertTrue(!a.output().contains("failed"), a.output());
        Tools.Result b = Tools.run(ref);
        assertEquals(0, b.exit(), b.output());
    }

    static void assertIdentical() throws Exception {
        String out = Tools.ok("qemu-img", "compare", "-f", "raw", "-F", "raw", uri, reference.toString());
        assertTrue(out.contains("Images are identical"), out);
    }

    @Test
    @Order(1)
    void randomQemuIoWritesMatchTheReference() throws Exception {
        Random r = new Random(2);
        List<String> cmds = new ArrayList<>();
        for (int i = 0; i < 300; i++) {
            long off = (long) (r.nextDouble() * (GIB - 4 * MIB));
            int kind = r.nextInt(10);
            if (kind < 6) {
                // unaligned offsets and lengths: read-modify-write of partial blocks
                int len = 1 + r.nextInt((int) (2 * MIB));
                cmds.add("write -P " + r.nextInt(256) + " " + off + " " + len);
            } else if (kind < 8) {
                long aligned = off & ~4095L;
                cmds.add("write -z " + aligned + " " + (4096L * (1 + r.nextInt(512))));
            } else {
                long aligned = off & ~4095L;
                cmds.add("discard " + aligned + " " + (4096L * (1 + r.nextInt(512))));
            }
        }
        cmds.add("flush");
        both(cmds);
        assertIdentical();
    }

    @Test
    @Order(2)
    void nbdcopyRoundTrips() throws Exception {
        Path out = dir.resolve("copy.img");
        Tools.ok("nbdcopy", uri, out.toString());
        Tools.ok("cmp", out.toString(), reference.toString());
        // And back: write a modified image into the export over several connections, then read it again.
        Tools.ok("qemu-io", "-f", "raw", "-c", "write -P 7 100M 3M", "-c", "write -P 9 900M 1M", reference.toString());
        Tools.ok("nbdcopy", "--connections=4", reference.toString(), uri);
        assertIdentical();
        Path again = dir.resolve("copy2.img");
        Tools.ok("nbdcopy", "--connections=4", uri, again.toString());
        Tools.ok("cmp", again.toString(), reference.toString());
    }

    @Test
    @Order(3)
    void trimAndWriteZeroesBecomeHolesInTheOverlay() throws Exception {
        Path ov = dir.resolve("sandbox.overlay");
        both(List.of("write -P 5 512M 64M", "flush"));
        long full = Tools.allocatedBytes(ov);
        // TRIM, and WRITE_ZEROES that may unmap (qemu-io -u: no NO_HOLE flag)
        both(List.of("discard 512M 32M", "write -z -u 544M 32M", "flush"));
        long after = Tools.allocatedBytes(ov);
        assertTrue(full - after >= 63 * MIB, "64 MiB released: " + full + " -> " + after);
        // A zero write with NO_HOLE (qemu-io without -u sends WRITE_ZEROES with NO_HOLE) stays allocated.
        both(List.of("write -z 600M 16M", "flush"));
        long allocated = Tools.allocatedBytes(ov);
        both(List.of("write -z -u 600M 16M", "flush"));
        long punched = Tools.allocatedBytes(ov);
        assertTrue(allocated - punched >= 15 * MIB, "NO_HOLE zeros were allocated, then unmapped: " + allocated
                + " -> " + punched);
        assertIdentical();
    }

    @Test
    @Order(4)
    void severalClientsAtOnce() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(6);
        try {
            List<Future<String>> fs = new ArrayList<>();
            for (int c = 0; c < 4; c++) {
                long region = (long) (c + 1) * 128 * MIB;
                fs.add(pool.submit(() -> Tools.ok("qemu-io", "-f", "raw", "-c", "write -P " + (0x40 + region / MIB % 200)
                        + " " + region + " 16M", "-c", "aio_write -P 3 " + (region + 20 * MIB) + " 1M",
                        "-c", "aio_flush", uri)));
            }
            fs.add(pool.submit(() -> Tools.ok("nbdcopy", uri, "null:")));
            fs.add(pool.submit(() -> Tools.ok("nbdinfo", uri)));
            for (Future<String> f : fs) {
                f.get();
            }
        } finally {
            pool.shutdown();
        }
        for (int c = 0; c < 4; c++) {
            long region = (long) (c + 1) * 128 * MIB;
            Tools.ok("qemu-io", "-f", "raw", "-c", "write -P " + (0x40 + region / MIB % 200) + " " + region + " 16M",
                    "-c", "write -P 3 " + (region + 20 * MIB) + " 1M", reference.toString());
        }
        assertIdentical();
        assertEquals(0, awaitNoConnections(), "every client connection closed");
    }

    static int awaitNoConnections() throws InterruptedException {
        for (int i = 0; i < 100 && server.activeConnections() > 0; i++) {
            Thread.sleep(20);
        }
        return server.activeConnections();
    }

    @Test
    @Order(5)
    void nbdinfoSeesSizesBlockSizesAndTheExportList() throws Exception {
        String info = Tools.ok("nbdinfo", uri);
        assertTrue(info.contains("export-size: " + GIB), info);
        assertTrue(info.contains("block_size_minimum: 1"), info);
        assertTrue(info.contains("block_size_preferred: 4096"), info);
        assertTrue(info.contains("block_size_maximum: " + (32 << 20)), info);
        assertTrue(info.contains("is_read_only: false"), info);
        assertTrue(info.contains("can_multi_conn: true"), info);
        assertTrue(info.contains("can_trim: true") && info.contains("can_zero: true"), info);
        String list = Tools.ok("nbdinfo", "--list", "nbd://127.0.0.1:" + server.port());
        assertTrue(list.contains("export=\"sandbox\"") && list.contains("export=\"template\""), list);
        assertTrue(list.contains("description: template image"), list);
        String ro = Tools.ok("nbdinfo", "nbd://127.0.0.1:" + server.port() + "/template");
        assertTrue(ro.contains("is_read_only: true"), ro);
    }

    @Test
    @Order(6)
    void theTemplateExportIsReadOnlyAndUnchanged() throws Exception {
        String t = "nbd://127.0.0.1:" + server.port() + "/template";
        Tools.Result w = Tools.run(List.of("qemu-io", "-f", "raw", "-c", "write -P 1 0 4096", t));
        assertNotEquals(0, w.exit() == 0 && !w.output().contains("failed") ? 0 : 1, w.output());
        String out = Tools.ok("qemu-img", "compare", "-f", "raw", "-F", "raw", t, basePath.toString());
        assertTrue(out.contains("Images are identical"), out);
    }
}
