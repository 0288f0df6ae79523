package io.sandboxd.block.nbd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sandboxd.block.RandomImage;
import io.sandboxd.block.cow.Overlay;
import io.sandboxd.block.layer.LayeredImage;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hostile clients (random bytes, wrong magics, huge and out-of-range lengths and offsets, truncated packets, random
 * mutations of a valid session) hammer one export while a well-behaved client keeps writing and verifying on
 * another; the server must keep serving it, never write outside an export, and release every connection.
 */
class NbdFuzzTest {
    static final int SIZE = 16 << 20;

    @TempDir
    Path dir;

    @Test
    void hostileClientsNeverDisturbAWellBehavedOne() throws Exception {
        RandomImage image = RandomImage.write(dir, SIZE, 1);
        warmUpSockets();
        long fdsBefore = countFds();
        try (LayeredImage base = LayeredImage.raw(image.path(), 4096);
                Overlay fuzzDisk = Overlay.create(dir.resolve("fuzz.overlay"), base);
                Overlay victimDisk = Overlay.create(dir.resolve("victim.overlay"), base);
                NbdServer server = NbdServer.start(new InetSocketAddress("127.0.0.1", 0), List.of(
                        new Export("fz", "fuzz target", fuzzDisk),
                        new Export("victim-disk-0001", "well-behaved client", victimDisk),
                        new Export("ro", "read-only", base)), new NbdLimits(1 << 20, 32, 8192, 64, 64 << 10, 4))) {
            int port = server.port();
            AtomicReference<Throwable> victimFailure = new AtomicReference<>();
            AtomicInteger victimRounds = new AtomicInteger();
            Thread victim = Thread.ofPlatform().start(() -> {
                try (TestClient c = new TestClient(port, "victim-disk-0001")) {
                    Random r = new Random(2);
                    byte[] shadow = image.bytes().clone();
                    while (!Thread.currentThread().isInterrupted()) {
                        int off = r.nextInt(SIZE - 70_000);
                        byte[] d = new byte[1 + r.nextInt(70_000)];
                        r.nextBytes(d);
                        assertEquals(0, c.write(off, d, 0));
                        System.arraycopy(d, 0, shadow, off, d.length);
                        int roff = r.nextInt(SIZE - 100_000);
                        assertArrayEquals(Arrays.copyOfRange(shadow, roff, roff + 100_000), c.read(roff, 100_000));
                        if (victimRounds.incrementAndGet() % 20 == 0) {
                            assertEquals(0, c.flush());
                        }
                    }
                } catch (Throwable t) {
                    if (!(t instanceof java.nio.channels.ClosedByInterruptException)) {
                        victimFailure.set(t);
                    }
                }
            });

            Random r = new Random(3);
            byte[] valid = validSession();
            List<byte[]> attacks = new ArrayList<>();
            attacks.add(random(r, 64));
            attacks.add(random(r, 100_000));
            attacks.add(concat(flags(), option(0x12345678, new byte[0]), new byte[] {1}));
            attacks.add(concat(flags(), ByteBuffer.allocate(16).putLong(0x1122334455667788L).putInt(7).putInt(0).array()));
            attacks.add(concat(flags(), ByteBuffer.allocate(16).putLong(NbdProtocol.IHAVEOPT).putInt(7).putInt(-1).array()));
            attacks.add(concat(flags(), Arrays.copyOf(option(NbdProtocol.OPT_GO, go("fz")), 20)));
            attacks.add(concat(flags(), option(NbdProtocol.OPT_GO, ByteBuffer.allocate(6).putInt(-1).array())));
            for (int i = 0; i < 60; i++) {
                attacks.add(concat(flags(), option(NbdProtocol.OPT_GO, go(i % 2 == 0 ? "fz" : "ro")), hostileRequests(r)));
            }
            for (int i = 0; i < 300; i++) {
                byte[] m = valid.clone();
                int flips = 1 + r.nextInt(8);
                for (int k = 0; k < flips; k++) {
                    m[4 + r.nextInt(m.length - 4)] ^= (byte) (1 << r.nextInt(8));
                }
                attacks.add(r.nextBoolean() ? m : Arrays.copyOf(m, r.nextInt(m.length)));
            }
            int served = 0;
            for (byte[] attack : attacks) {
                served += attack(port, attack) ? 1 : 0;
            }
            assertTrue(served > 0, "some hostile sessions got replies");
            Thread.sleep(200);
            victim.interrupt();
            victim.join(10_000);
            assertNull(victimFailure.get(), () -> "the well-behaved client failed: " + victimFailure.get());
            assertTrue(victimRounds.get() > 5, "the well-behaved client made progress: " + victimRounds.get());

            // Still serving: a fresh client can connect and read.
            try (TestClient c = new TestClient(port, "ro")) {
                assertArrayEquals(Arrays.copyOf(image.bytes(), 4096), c.read(0, 4096));
            }
            for (int i = 0; i < 200 && server.activeConnections() > 0; i++) {
                Thread.sleep(25);
            }
            assertEquals(0, server.activeConnections(), "every hostile connection was released");
        }
        assertArrayEquals(image.bytes(), Files.readAllBytes(image.path()), "the read-only image was never written");
        assertEquals(SIZE, Files.size(dir.resolve("fuzz.overlay")), "nothing written past the export's end");
        assertEquals(fdsBefore, countFds(), () -> "no descriptor leaked: " + listFds());
    }

    /** Sends an attack, reads whatever comes back until the server closes or goes quiet. Returns true if it replied. */
    private static boolean attack(int port, byte[] bytes) throws IOException {
        try (SocketChannel ch = SocketChannel.open(new InetSocketAddress("127.0.0.1", port))) {
            ch.setOption(StandardSocketOptions.SO_LINGER, 0);
            ch.socket().setSoTimeout(200);
            try {
                ch.write(ByteBuffer.wrap(bytes));
            } catch (IOException closedByServer) {
                return true;
            }
            ch.shutdownOutput();
            ByteBuffer sink = ByteBuffer.allocate(1 << 16);
            long got = 0;
            try (var in = ch.socket().getInputStream()) {
                int n;
                while ((n = in.read(sink.array())) > 0) {
                    got += n;
                }
            } catch (java.net.SocketTimeoutException quiet) {
                // a truncated request leaves the server waiting for the rest: that is fine
            } catch (IOException reset) {
                // hard disconnect by the server
            }
            return got > 0;
        }
    }

    static byte[] flags() {
        return ByteBuffer.allocate(4).putInt(NbdProtocol.FLAG_C_FIXED_NEWSTYLE | NbdProtocol.FLAG_C_NO_ZEROES).array();
    }

    static byte[] option(int option, byte[] data) {
        return DecoderTest.option(option, data);
    }

    static byte[] go(String name) {
        return NbdConnectionTest.infoRequest(name, NbdProtocol.INFO_BLOCK_SIZE);
    }

    static byte[] validSession() {
        return concat(flags(), option(NbdProtocol.OPT_LIST, new byte[0]), option(NbdProtocol.OPT_GO, go("fz")),
                DecoderTest.request(0, NbdProtocol.CMD_WRITE, 1, 4096, 600), new byte[600],
                DecoderTest.request(0, NbdProtocol.CMD_READ, 2, 0, 8192),
                DecoderTest.request(0, NbdProtocol.CMD_TRIM, 3, 8192, 4096),
                DecoderTest.request(0, NbdProtocol.CMD_WRITE_ZEROES, 4, 12288, 4096),
                DecoderTest.request(0, NbdProtocol.CMD_FLUSH, 5, 0, 0),
                DecoderTest.request(0, NbdProtocol.CMD_DISC, 6, 0, 0));
    }

    /** Requests with out-of-range offsets, huge lengths, unknown types, flags and magics, and truncation. */
    static byte[] hostileRequests(Random r) {
        List<byte[]> parts = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            long off = switch (r.nextInt(5)) {
                case 0 -> SIZE;
                case 1 -> Long.MAX_VALUE - r.nextInt(4096);
                case 2 -> -1L - r.nextInt(100);
                case 3 -> SIZE - 1;
                default -> r.nextInt(SIZE);
            };
            int len = switch (r.nextInt(4)) {
                case 0 -> -1;
                case 1 -> (32 << 20) + 1;
                case 2 -> r.nextInt(8192);
                default -> 2;
            };
            int type = r.nextInt(10);
            int flags = r.nextInt(4) == 0 ? r.nextInt(1 << 16) : 0;
            parts.add(DecoderTest.request(flags, type, i, off, len));
            if (type == NbdProtocol.CMD_WRITE && len >= 0 && len < 8192) {
                parts.add(random(r, len));
            }
            if (type == NbdProtocol.CMD_WRITE && len < 0) {
                break; // the payload would be 4 GiB: end here (the server waits for it, then sees EOF)
            }
        }
        if (r.nextBoolean()) {
            parts.add(DecoderTest.request(0, 0, 99, 0, 16));
            byte[] last = parts.getLast();
            last[1] ^= 0x55; // wrong request magic
        }
        byte[] all = concat(parts.toArray(byte[][]::new));
        return r.nextInt(3) == 0 ? Arrays.copyOf(all, r.nextInt(all.length)) : all;
    }

    static byte[] random(Random r, int n) {
        byte[] b = new byte[n];
        r.nextBytes(b);
        return b;
    }

    static byte[] concat(byte[]... parts) {
        int n = 0;
        for (byte[] p : parts) {
            n += p.length;
        }
        ByteBuffer b = ByteBuffer.allocate(n);
        for (byte[] p : parts) {
            b.put(p);
        }
        return b.array();
    }

    /** The JDK opens one socket of its own on first socket use (for closing channels under blocked threads). */
    static void warmUpSockets() throws IOException {
        try (var l = java.nio.channels.ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
                SocketChannel c = SocketChannel.open(l.getLocalAddress());
                SocketChannel a = l.accept()) {
            c.write(ByteBuffer.wrap(new byte[1]));
            a.read(ByteBuffer.allocate(1));
        }
    }

    static String listFds() {
        try (var s = Files.list(Path.of("/proc/self/fd"))) {
            return s.map(p -> {
                try {
                    return p.getFileName() + "->" + Files.readSymbolicLink(p);
                } catch (IOException e) {
                    return p.getFileName() + "->?";
                }
            }).toList().toString();
        } catch (IOException e) {
            return e.toString();
        }
    }

    static long countFds() throws IOException {
        try (var s = Files.list(Path.of("/proc/self/fd"))) {
            return s.count();
        }
    }
}
