package io.sandboxd.block.nbd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.sandboxd.block.RandomImage;
import io.sandboxd.block.cow.Overlay;
import io.sandboxd.block.layer.LayeredImage;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The server's own socket handling: reads sent from the devices' mappings, and a close that leaves nothing behind. */
class NbdServerTest {
    private static final int SIZE = 8 << 20;

    @TempDir
    Path dir;

    @Test
    void readsOfEverySizeComeBackFromMappingsAndCloseReleasesSocketsAndMappings() throws Exception {
        RandomImage image = RandomImage.write(dir, SIZE, 5);
        NbdFuzzTest.warmUpSockets();
        long fdsBefore = NbdFuzzTest.countFds();
        TestClient client;
        try (LayeredImage base = LayeredImage.raw(image.path(), 4096);
                Overlay overlay = Overlay.create(dir.resolve("ov"), base)) {
            NbdServer server = NbdServer.start(new InetSocketAddress("127.0.0.1", 0),
                    List.of(new Export("disk", "", overlay)), NbdLimits.DEFAULT);
            client = new TestClient(server.port(), "disk");
            byte[] written = new byte[300_000];
            new Random(6).nextBytes(written);
            assertEquals(0, client.write(1_000_000, written, 0)); // overlay DATA blocks between base runs
            System.arraycopy(written, 0, image.bytes(), 1_000_000, written.length);
            // Small reads are copied into the reply buffer, large ones sent from the mappings, some across the
            // base/overlay boundaries.
            for (int[] r : new int[][] {{0, 512}, {4096, 4096}, {990_000, 20_000}, {900_000, 1 << 20},
                    {0, 4 << 20}, {SIZE - 70_000, 70_000}}) {
                assertArrayEquals(Arrays.copyOfRange(image.bytes(), r[0], r[0] + r[1]), client.read(r[0], r[1]),
                        r[1] + " bytes at " + r[0]);
            }
            assertEquals(2, mappingsOf(dir), "the base and the overlay data file are mapped once each");
            server.close();
            assertEquals(0, server.activeConnections(), "close returns once its connections have ended");
            assertThrows(IOException.class, () -> client.read(0, 4096));
            try {
                client.close();
            } catch (IOException hungUp) {
                // the DISC may not get out to a server that is gone; the socket is closed either way
            }
        }
        assertEquals(fdsBefore, NbdFuzzTest.countFds(), "no descriptor left behind");
        assertEquals(0, mappingsOf(dir), "no mapping of the image files left behind");
    }

    /** Mappings of files under {@code dir} (other mappings come and go with the JVM's threads and compilers). */
    private static long mappingsOf(Path dir) throws IOException {
        try (var lines = Files.lines(Path.of("/proc/self/maps"))) {
            return lines.filter(l -> l.contains(dir.toAbsolutePath().toString())).count();
        }
    }
}
