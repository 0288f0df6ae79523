package io.sandboxd.block.nbd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sandboxd.block.RandomImage;
import io.sandboxd.block.cow.Overlay;
import io.sandboxd.block.layer.LayeredImage;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The hostile-input campaign of the NBD server (issue 14), one session per case over TCP against a real server:
 * malformed handshakes and options, requests past the export's end or wrapping 2^64, unknown commands and flags,
 * writes to a read-only export, truncated requests and clients that leave in the middle. Each case lists the option
 * replies it must get, in order, the simple replies (cookie and NBD error) in any order (the server answers requests
 * as they complete, which NBD allows), and whether the server hangs up on it
 * (what follows the bad part then gets no answer). After each case a well-behaved client still reads and writes,
 * the region no case may touch is unchanged and the read-only image was never written. {@link NbdConnectionTest}
 * and {@link NbdFuzzTest} cover a whole mixed session and random mutations; these are the single inputs.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class NbdHostileInputTest {
    static final int SIZE = 4 << 20;
    /** The first MiB: no case writes there, every check reads it back. */
    static final int CANARY = 1 << 20;
    static final NbdLimits LIMITS = new NbdLimits(1 << 20, 6, 8192, 16, 64 << 10, 2);
    static final List<Integer> GO_OK = List.of(NbdProtocol.REP_INFO, NbdProtocol.REP_INFO, NbdProtocol.REP_ACK);

    @TempDir
    static Path dir;
    RandomImage image;
    LayeredImage base;
    Overlay disk;
    NbdServer server;

    @BeforeAll
    void start() throws IOException {
        image = RandomImage.write(dir, SIZE, 7);
        base = LayeredImage.raw(image.path(), 4096);
        disk = Overlay.create(dir.resolve("disk.overlay"), base);
        server = NbdServer.start(new InetSocketAddress("127.0.0.1", 0), List.of(
                new Export("disk", "the sandbox disk", disk), new Export("ro", "read-only", base)), LIMITS);
    }

    @AfterAll
    void stop() throws IOException {
        server.close();
        disk.close();
        base.close();
        assertArrayEquals(image.bytes(), Files.readAllBytes(image.path()), "the read-only image was never written");
    }

    @AfterEach
    void stillServingAndNothingLost() throws IOException {
        try (TestClient c = new TestClient(server.port(), "disk")) {
            assertArrayEquals(Arrays.copyOf(image.bytes(), CANARY), c.read(0, CANARY), "the canary region is intact");
            byte[] probe = "still serving".getBytes(StandardCharsets.UTF_8);
            assertEquals(0, c.write(SIZE - 4096, probe, 0));
            assertArrayEquals(probe, c.read(SIZE - 4096, probe.length));
        }
        try (TestClient c = new TestClient(server.port(), "ro")) {
            assertArrayEquals(Arrays.copyOfRange(image.bytes(), 4096, 8192), c.read(4096, 4096));
        }
    }

    // ---- the cases ---------------------------------------------------------------------------------------------

    /**
     * @param options     the option reply types, in order
     * @param replies     the simple replies, {cookie, error}, compared by cookie: requests in flight together may be
     *                    answered in any order
     * @param hangsUp     the server closes the connection on this input (a cookie-99 READ sent after it goes
     *                    unanswered)
     */
    record Case(String name, byte[] script, List<Integer> options, List<long[]> replies, boolean hangsUp,
                Consumer<byte[]> more) {
        @Override
        public String toString() {
            return name;
        }
    }

    static final class Session {
        final NbdConnectionTest.Script s = new NbdConnectionTest.Script();
        final List<Integer> options = new ArrayList<>();
        final List<long[]> replies = new ArrayList<>();

        Session flags(int flags) {
            s.raw(ByteBuffer.allocate(4).putInt(flags).array());
            return this;
        }

        Session fixed() {
            return flags(NbdProtocol.FLAG_C_FIXED_NEWSTYLE | NbdProtocol.FLAG_C_NO_ZEROES);
        }

        Session option(int option, byte[] data, Integer... replyTypes) {
            s.option(option, data);
            options.addAll(List.of(replyTypes));
            return this;
        }

        Session go(String export) {
            s.option(NbdProtocol.OPT_GO, NbdConnectionTest.infoRequest(export));
            options.addAll(GO_OK);
            return this;
        }

        /** A request; {@code error} null means no reply is expected for it. */
        Session request(int flags, int type, long cookie, long offset, long length, Integer error) {
            s.request(flags, type, cookie, offset, length);
            if (error != null) {
                replies.add(new long[] {cookie, error});
            }
            return this;
        }

        Session raw(byte[] bytes) {
            s.raw(bytes);
            return this;
        }

        Case expect(String name) {
            return new Case(name, s.bytes(), options, replies, false, out -> { });
        }

        /** The server hangs up here: a READ sent after this point is never answered. */
        Case hangsUp(String name) {
            s.request(0, NbdProtocol.CMD_READ, 99, 0, 512);
            return new Case(name, s.bytes(), options, replies, true, out -> { });
        }
    }

    static Session session() {
        return new Session();
    }

    static Session disk() {
        return session().fixed().go("disk");
    }

    static byte[] option(long magic, int option, long length) {
        return ByteBuffer.allocate(16).putLong(magic).putInt(option).putInt((int) length).array();
    }

    static byte[] goData(byte[] name, int requests, int... infos) {
        ByteBuffer b = ByteBuffer.allocate(4 + name.length + 2 + 2 * infos.length).putInt(name.length).put(name)
                .putShort((short) requests);
        for (int i : infos) {
            b.putShort((short) i);
        }
        return b.array();
    }

    static final int INVALID = NbdProtocol.REP_ERR_INVALID;
    static final int UNSUP = NbdProtocol.REP_ERR_UNSUP;
    static final int UNKNOWN = NbdProtocol.REP_ERR_UNKNOWN;
    static final int EINVAL = NbdProtocol.EINVAL;
    static final int ENOSPC = NbdProtocol.ENOSPC;
    static final int EPERM = NbdProtocol.EPERM;
    static final int READ = NbdProtocol.CMD_READ;
    static final int WRITE = NbdProtocol.CMD_WRITE;

    Stream<Case> cases() {
        byte[] badUtf8 = {(byte) 0xc3, (byte) 0x28};
        List<Case> all = new ArrayList<>(List.of(
                // handshake
                session().flags(-1).hangsUp("handshake: every client flag set"),
                session().flags(NbdProtocol.FLAG_C_FIXED_NEWSTYLE | 0x100).hangsUp("handshake: an unknown client flag"),
                session().fixed().raw(option(0x4948415645000000L, NbdProtocol.OPT_GO, 0))
                        .hangsUp("option: bad magic"),
                session().fixed().raw(option(NbdProtocol.IHAVEOPT, NbdProtocol.OPT_GO, 0xffff_ffffL))
                        .hangsUp("option: 4 GiB of data announced"),
                session().fixed().raw(option(NbdProtocol.IHAVEOPT, NbdProtocol.OPT_GO, LIMITS.maxOptionData() + 1))
                        .hangsUp("option: one byte over the option cap"),
                session().fixed().raw(Arrays.copyOf(option(NbdProtocol.IHAVEOPT, NbdProtocol.OPT_GO, 30), 16 + 7))
                        .expect("option: data cut short, then the client leaves"),
                session().fixed().option(NbdProtocol.OPT_STARTTLS, new byte[0], UNSUP).go("disk")
                        .request(0, READ, 1, 0, 16, 0).expect("option: STARTTLS is refused and the session goes on"),
                session().fixed().option(NbdProtocol.OPT_LIST_META_CONTEXT, new byte[8], UNSUP).go("disk")
                        .expect("option: LIST_META_CONTEXT is not supported"),
                session().fixed().option(NbdProtocol.OPT_SET_META_CONTEXT, new byte[8], UNSUP).go("disk")
                        .expect("option: SET_META_CONTEXT is not supported"),
                session().fixed().option(0, new byte[0], UNSUP).option(0xffff_ffff, new byte[3], UNSUP).go("disk")
                        .expect("option: numbers 0 and 2^32-1"),
                session().fixed().option(NbdProtocol.OPT_GO, ByteBuffer.allocate(10).putInt(500)
                        .put("disk".getBytes()).putShort((short) 0).array(), INVALID).go("disk")
                        .expect("GO: name length past the option"),
                session().fixed().option(NbdProtocol.OPT_GO, goData("disk".getBytes(), 3, NbdProtocol.INFO_NAME),
                        INVALID).go("disk").expect("GO: information request count mismatch"),
                session().fixed().option(NbdProtocol.OPT_GO, goData(badUtf8, 0), INVALID).go("disk")
                        .expect("GO: export name not UTF-8"),
                session().fixed().option(NbdProtocol.OPT_GO, goData("../disk".getBytes(), 0), UNKNOWN).go("disk")
                        .request(0, READ, 1, 0, 8, 0).expect("GO: traversal-shaped export name is just unknown"),
                session().fixed().option(NbdProtocol.OPT_INFO, goData("disk".getBytes(), 0), GO_OK.toArray(Integer[]::new))
                        .option(NbdProtocol.OPT_GO, goData("nope".getBytes(), 0), UNKNOWN).go("ro")
                        .request(0, READ, 1, 0, 8, 0).expect("GO: unknown export, then a good one"),
                session().fixed().option(NbdProtocol.OPT_EXPORT_NAME, badUtf8).hangsUp("EXPORT_NAME: not UTF-8"),
                session().fixed().option(NbdProtocol.OPT_ABORT, new byte[0], NbdProtocol.REP_ACK)
                        .hangsUp("option: ABORT ends the session"),
                tooManyOptions(),
                session().expect("handshake: the client leaves after the greeting"),
                // transmission
                disk().raw(ByteBuffer.allocate(28).putInt(0x25609514).array()).hangsUp("request: bad magic"),
                disk().raw(Arrays.copyOf(DecoderTest.request(0, READ, 1, 0, 512), 17))
                        .expect("request: header cut short, then the client leaves"),
                disk().raw(DecoderTest.option(NbdProtocol.OPT_GO, NbdConnectionTest.infoRequest("disk")))
                        .hangsUp("request: an option sent during transmission"),
                disk().request(0, WRITE, 1, CANARY, 4096, null).raw(new byte[1000])
                        .expect("request: write payload cut short, then the client leaves"),
                disk().request(0, WRITE, 1, CANARY + 65536, LIMITS.maxPayload(), null).raw(new byte[1 << 19])
                        .expect("request: large write cut short, then the client leaves"),
                disk().request(0, READ, 1, -512L, 1024, EINVAL).expect("read: offset + length wraps 2^64"),
                disk().request(0, READ, 1, -1L, 1, EINVAL).expect("read: offset 2^64-1"),
                disk().request(0, READ, 1, SIZE - 1, 2, EINVAL).expect("read: one byte past the end"),
                disk().request(0, READ, 1, SIZE + 4096L, 512, EINVAL).expect("read: wholly past the end"),
                disk().request(0, NbdProtocol.CMD_TRIM, 1, SIZE - 4096, 8192, EINVAL).expect("trim: past the end"),
                disk().request(0, NbdProtocol.CMD_TRIM, 1, -4096L, 8192, EINVAL).expect("trim: wraps 2^64"),
                disk().request(0, NbdProtocol.CMD_WRITE_ZEROES, 1, SIZE - 4096, 8192, ENOSPC)
                        .expect("write zeroes: past the end"),
                disk().request(0, NbdProtocol.CMD_WRITE_ZEROES, 1, -4096L, 8192, ENOSPC)
                        .expect("write zeroes: wraps 2^64"),
                disk().request(0, WRITE, 1, SIZE - 10, 20, ENOSPC).raw(new byte[20]).request(0, READ, 2, CANARY, 16, 0)
                        .expect("write: straddles the end, payload skipped in step"),
                disk().request(0, WRITE, 1, CANARY, LIMITS.maxPayload() + 1L, EINVAL)
                        .raw(new byte[LIMITS.maxPayload() + 1]).request(0, READ, 2, CANARY, 16, 0)
                        .expect("write: payload over the cap is skipped and refused"),
                disk().request(0x8000, NbdProtocol.CMD_FLUSH, 1, 0, 0, EINVAL).expect("flush: unknown flag"),
                disk().request(NbdProtocol.CMD_FLAG_REQ_ONE, READ, 1, 0, 512, EINVAL)
                        .expect("read: REQ_ONE without block status"),
                disk().request(NbdProtocol.CMD_FLAG_NO_HOLE, READ, 1, 0, 512, EINVAL)
                        .expect("read: NO_HOLE is only for write zeroes"),
                disk().request(NbdProtocol.CMD_FLAG_NO_HOLE, WRITE, 1, CANARY, 16, EINVAL).raw(new byte[16])
                        .request(0, READ, 2, CANARY, 16, 0).expect("write: NO_HOLE refused, payload skipped in step"),
                disk().request(0, NbdProtocol.CMD_CACHE, 1, 0, 4096, EINVAL).expect("command: CACHE is not advertised"),
                disk().request(0, NbdProtocol.CMD_BLOCK_STATUS, 1, 0, 4096, EINVAL)
                        .expect("command: BLOCK_STATUS without a meta context"),
                disk().request(0, 0xffff, 1, 0, 0, EINVAL).expect("command: type 65535"),
                session().fixed().go("ro").request(NbdProtocol.CMD_FLAG_FUA, WRITE, 1, 0, 512, EPERM)
                        .raw(new byte[512]).request(0, READ, 2, 0, 16, 0).expect("read-only: FUA write"),
                session().fixed().go("ro").request(NbdProtocol.CMD_FLAG_FUA, NbdProtocol.CMD_TRIM, 1, 0, 4096, EPERM)
                        .expect("read-only: FUA trim"),
                session().fixed().go("ro").request(0, WRITE, 1, SIZE, 16, EPERM).raw(new byte[16])
                        .expect("read-only: write past the end is still EPERM"),
                disk().request(0, READ, 1, CANARY, 16, 0).request(0, NbdProtocol.CMD_DISC, 2, 0, 0, null)
                        .request(0, READ, 3, CANARY, 16, null).expect("disconnect: answers what came before, then nothing"),
                disk().request(0, READ, 1, CANARY, 1 << 20, null)
                        .expect("disconnect: the client leaves before reading a 1 MiB reply")));
        return all.stream();
    }

    static Case tooManyOptions() {
        Session s = session().fixed();
        for (int i = 0; i < LIMITS.maxOptions(); i++) {
            s.option(NbdProtocol.OPT_LIST, new byte[1], INVALID);
        }
        return s.hangsUp("option: more options than the cap without choosing an export");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void campaign(Case c) throws Exception {
        byte[] out = exchange(c.script(), c.name().contains("leaves before reading"));
        Parsed p = parse(out);
        assertEquals(c.options(), p.options(), "option replies of " + c);
        if (c.name().contains("leaves before reading")) {
            return; // the reply was cut off by the client on purpose
        }
        assertEquals(describe(c.replies()), describe(p.replies()), "simple replies of " + c);
        assertTrue(p.rest() == 0, "nothing else was sent");
        c.more().accept(out);
    }

    /** Sends the script, half-closes, and reads everything until the server closes (or the client gives up). */
    byte[] exchange(byte[] script, boolean leaveEarly) throws IOException {
        try (SocketChannel ch = SocketChannel.open(new InetSocketAddress("127.0.0.1", server.port()))) {
            ch.socket().setSoTimeout(15_000);
            ByteBuffer b = ByteBuffer.wrap(script);
            try {
                while (b.hasRemaining()) {
                    ch.write(b);
                }
                ch.shutdownOutput();
            } catch (IOException closedByServer) {
                // read what it answered before hanging up
            }
            java.io.ByteArrayOutputStream got = new java.io.ByteArrayOutputStream();
            byte[] buf = new byte[1 << 16];
            var in = ch.socket().getInputStream();
            try {
                int n;
                while ((n = in.read(buf)) > 0) {
                    got.write(buf, 0, n);
                    if (leaveEarly && got.size() > 100) {
                        break;
                    }
                }
            } catch (SocketTimeoutException e) {
                throw new AssertionError("the server neither answered nor closed the connection", e);
            } catch (IOException reset) {
                // a hard close
            }
            return got.toByteArray();
        }
    }

    record Parsed(List<Integer> options, List<long[]> replies, int rest) {
    }

    /** Greeting, option replies (until GO's ACK or the end), then simple replies; read replies carry their data. */
    static Parsed parse(byte[] out) {
        ByteBuffer b = ByteBuffer.wrap(out);
        List<Integer> options = new ArrayList<>();
        List<long[]> replies = new ArrayList<>();
        if (b.remaining() < 18) {
            return new Parsed(options, replies, b.remaining());
        }
        assertEquals(NbdProtocol.NBDMAGIC, b.getLong());
        assertEquals(NbdProtocol.IHAVEOPT, b.getLong());
        b.getShort();
        boolean transmission = false;
        while (b.remaining() >= 20 && !transmission) {
            assertEquals(NbdProtocol.REPLY_MAGIC_OPT, b.getLong());
            int option = b.getInt();
            int type = b.getInt();
            int length = b.getInt();
            b.position(b.position() + length);
            options.add(type);
            transmission = option == NbdProtocol.OPT_GO && type == NbdProtocol.REP_ACK;
        }
        while (b.remaining() >= 16) {
            assertEquals(NbdProtocol.SIMPLE_REPLY_MAGIC, b.getInt());
            int error = b.getInt();
            long cookie = b.getLong();
            replies.add(new long[] {cookie, error});
            if (error == 0 && cookie != 0 && b.remaining() > 0) {
                // READ data: every read in these scripts is 16 or 8 bytes unless a case says otherwise
                int n = (int) Math.min(b.remaining(), readLength(cookie, b));
                b.position(b.position() + n);
            }
        }
        return new Parsed(options, replies, b.remaining());
    }

    /** Data length of a successful read reply: the scripts only read 8 or 16 bytes before another reply or the end. */
    private static int readLength(long cookie, ByteBuffer b) {
        for (int n : new int[] {16, 8}) {
            if (b.remaining() == n || b.remaining() >= n + 4 && b.getInt(b.position() + n) == NbdProtocol.SIMPLE_REPLY_MAGIC) {
                return n;
            }
        }
        return b.remaining();
    }

    static List<String> describe(List<long[]> replies) {
        return replies.stream().sorted(Comparator.comparingLong(r -> r[0]))
                .map(r -> "cookie " + r[0] + " error " + r[1]).toList();
    }
}
