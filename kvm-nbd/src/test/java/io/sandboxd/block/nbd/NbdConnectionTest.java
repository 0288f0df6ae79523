package io.sandboxd.block.nbd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sandboxd.block.cow.Overlay;
import io.sandboxd.block.layer.LayeredImage;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A whole client session (handshake with good and bad options, then good and hostile requests) played into one
 * connection: the replies are checked field by field, and the same session split at every byte offset, and fed
 * 1..7 bytes at a time, must produce exactly the same output.
 */
class NbdConnectionTest {
    static final int SIZE = 256 << 10;
    static final NbdLimits LIMITS = new NbdLimits(1 << 20, 4, 8192, 64, 64 << 10, 1);

    @TempDir
    Path dir;
    byte[] base;
    LayeredImage image;
    Overlay overlay;
    Map<String, Export> exports;

    @BeforeEach
    void setUp() throws Exception {
        base = new byte[SIZE];
        new Random(1).nextBytes(base);
        Files.write(dir.resolve("base.img"), base);
        image = LayeredImage.raw(dir.resolve("base.img"), 4096);
        overlay = Overlay.create(dir.resolve("ov"), image);
        exports = new LinkedHashMap<>();
        exports.put("disk", new Export("disk", "the sandbox disk", overlay));
        exports.put("ro", new Export("ro", "", image));
        exports.put("", exports.get("disk"));
    }

    @AfterEach
    void tearDown() throws Exception {
        overlay.close();
        image.close();
    }

    /** Client bytes under construction, remembering which cookies are reads (their replies carry data). */
    static final class Script {
        final ByteArrayOutputStream b = new ByteArrayOutputStream();
        final Map<Long, Integer> readLengths = new HashMap<>();

        Script raw(byte[] bytes) {
            b.writeBytes(bytes);
            return this;
        }

        Script option(int option, byte[] data) {
            return raw(DecoderTest.option(option, data));
        }

        Script request(int flags, int type, long cookie, long offset, long length) {
            if (type == NbdProtocol.CMD_READ) {
                readLengths.put(cookie, (int) length);
            }
            return raw(DecoderTest.request(flags, type, cookie, offset, (int) length));
        }

        byte[] bytes() {
            return b.toByteArray();
        }
    }

    static byte[] infoRequest(String name, int... infos) {
        byte[] n = name.getBytes(StandardCharsets.UTF_8);
        ByteBuffer d = ByteBuffer.allocate(4 + n.length + 2 + 2 * infos.length).putInt(n.length).put(n)
                .putShort((short) infos.length);
        for (int i : infos) {
            d.putShort((short) i);
        }
        return d.array();
    }

    record OptionReply(int option, int type, byte[] data) {
    }

    record SimpleReply(int error, long cookie, byte[] data) {
    }

    record Parsed(int handshakeFlags, List<OptionReply> options, List<SimpleReply> replies) {
    }

    static Parsed parse(byte[] out, Map<Long, Integer> readLengths) {
        ByteBuffer b = ByteBuffer.wrap(out);
        assertEquals(NbdProtocol.NBDMAGIC, b.getLong());
        assertEquals(NbdProtocol.IHAVEOPT, b.getLong());
        int hf = Short.toUnsignedInt(b.getShort());
        List<OptionReply> opts = new ArrayList<>();
        boolean transmission = false;
        while (b.hasRemaining() && !transmission) {
            assertEquals(NbdProtocol.REPLY_MAGIC_OPT, b.getLong());
            int opt = b.getInt();
            int type = b.getInt();
            byte[] data = new byte[b.getInt()];
            b.get(data);
            opts.add(new OptionReply(opt, type, data));
            transmission = opt == NbdProtocol.OPT_GO && type == NbdProtocol.REP_ACK;
        }
        List<SimpleReply> replies = new ArrayList<>();
        while (b.hasRemaining()) {
            assertEquals(NbdProtocol.SIMPLE_REPLY_MAGIC, b.getInt());
            int err = b.getInt();
            long cookie = b.getLong();
            byte[] data = new byte[err == 0 ? readLengths.getOrDefault(cookie, 0) : 0];
            b.get(data);
            replies.add(new SimpleReply(err, cookie, data));
        }
        return new Parsed(hf, opts, replies);
    }

    byte[] run(ScriptedTransport t) {
        new NbdConnection(t, exports, LIMITS).run();
        assertTrue(t.closed, "the connection closes its transport");
        return t.written.toByteArray();
    }

    Script writableSession() {
        byte[] pattern = new byte[700];
        new Random(2).nextBytes(pattern);
        Script s = new Script();
        s.raw(ByteBuffer.allocate(4).putInt(NbdProtocol.FLAG_C_FIXED_NEWSTYLE | NbdProtocol.FLAG_C_NO_ZEROES).array());
        s.option(NbdProtocol.OPT_LIST, new byte[0]);
        s.option(NbdProtocol.OPT_LIST, new byte[] {1});
        s.option(NbdProtocol.OPT_INFO, infoRequest("nope"));
        s.option(99, new byte[] {1, 2, 3});
        s.option(NbdProtocol.OPT_STRUCTURED_REPLY, new byte[0]);
        s.option(NbdProtocol.OPT_INFO, infoRequest("disk", NbdProtocol.INFO_NAME, NbdProtocol.INFO_DESCRIPTION, 77));
        s.option(NbdProtocol.OPT_INFO, ByteBuffer.allocate(8).putInt(1000).array());
        s.option(NbdProtocol.OPT_GO, infoRequest(""));
        s.request(0, NbdProtocol.CMD_WRITE, 1, 1000, 700).raw(pattern);
        s.request(0, NbdProtocol.CMD_READ, 2, 0, 2000);
        s.request(0, NbdProtocol.CMD_WRITE_ZEROES, 3, 8192, 8192);
        s.request(NbdProtocol.CMD_FLAG_FUA, NbdProtocol.CMD_READ, 4, 8192, 8192);
        s.request(0, NbdProtocol.CMD_TRIM, 5, 65537, 100);
        s.request(0, NbdProtocol.CMD_FLUSH, 6, 0, 0);
        s.request(0, NbdProtocol.CMD_READ, 7, SIZE - 10, 20);
        s.request(0, NbdProtocol.CMD_READ, 8, 0, LIMITS.maxPayload() + 1L);
        s.request(0, NbdProtocol.CMD_WRITE, 9, SIZE, 10).raw(new byte[10]);
        s.request(0, 42, 10, 0, 0);
        s.request(NbdProtocol.CMD_FLAG_DF, NbdProtocol.CMD_READ, 11, 0, 512);
        s.request(0, NbdProtocol.CMD_READ, 12, Long.MIN_VALUE + 5, 512);
        s.request(NbdProtocol.CMD_FLAG_FAST_ZERO, NbdProtocol.CMD_WRITE_ZEROES, 13, 0, 4096);
        s.request(NbdProtocol.CMD_FLAG_FUA, NbdProtocol.CMD_WRITE, 14, SIZE - 100, 100).raw(new byte[100]);
        s.request(0, NbdProtocol.CMD_READ, 15, 1000, 16);
        s.request(0, NbdProtocol.CMD_WRITE, 16, Long.MAX_VALUE - 3, 10).raw(new byte[10]);
        s.request(0, NbdProtocol.CMD_DISC, 17, 0, 0);
        return s;
    }

    @Test
    void aSessionGetsTheRightReplies() {
        Script s = writableSession();
        Parsed p = parse(run(new ScriptedTransport(s.bytes())), s.readLengths);
        assertEquals(NbdProtocol.FLAG_FIXED_NEWSTYLE | NbdProtocol.FLAG_NO_ZEROES, p.handshakeFlags());
        List<OptionReply> o = p.options();
        assertEquals(NbdProtocol.REP_SERVER, o.get(0).type());
        assertEquals(NbdProtocol.REP_SERVER, o.get(1).type());
        assertEquals(NbdProtocol.REP_ACK, o.get(2).type());
        assertEquals(NbdProtocol.REP_ERR_INVALID, o.get(3).type());
        assertEquals(NbdProtocol.REP_ERR_UNKNOWN, o.get(4).type());
        assertEquals(NbdProtocol.REP_ERR_UNSUP, o.get(5).type());
        assertEquals(99, o.get(5).option());
        assertEquals(NbdProtocol.REP_ERR_UNSUP, o.get(6).type());
        // INFO disk: export, name, description, block size, ack
        ByteBuffer export = ByteBuffer.wrap(o.get(7).data());
        assertEquals(NbdProtocol.INFO_EXPORT, export.getShort());
        assertEquals(SIZE, export.getLong());
        int flags = Short.toUnsignedInt(export.getShort());
        assertEquals(0, flags & NbdProtocol.FLAG_READ_ONLY);
        assertTrue((flags & NbdProtocol.FLAG_SEND_WRITE_ZEROES) != 0 && (flags & NbdProtocol.FLAG_CAN_MULTI_CONN) != 0);
        assertEquals("disk", new String(o.get(8).data(), 2, o.get(8).data().length - 2, StandardCharsets.UTF_8));
        assertEquals("the sandbox disk", new String(o.get(9).data(), 2, o.get(9).data().length - 2, StandardCharsets.UTF_8));
        ByteBuffer bs = ByteBuffer.wrap(o.get(10).data());
        assertEquals(NbdProtocol.INFO_BLOCK_SIZE, bs.getShort());
        assertEquals(1, bs.getInt());
        assertEquals(4096, bs.getInt());
        assertEquals(LIMITS.maxPayload(), bs.getInt());
        assertEquals(NbdProtocol.REP_ACK, o.get(11).type());
        assertEquals(NbdProtocol.REP_ERR_INVALID, o.get(12).type());
        assertEquals(NbdProtocol.OPT_GO, o.getLast().option());

        Map<Long, SimpleReply> r = new HashMap<>();
        for (SimpleReply x : p.replies()) {
            r.put(x.cookie(), x);
        }
        assertEquals(16, p.replies().size(), "every request but DISC answered, in order");
        byte[] pattern = new byte[700];
        new Random(2).nextBytes(pattern);
        byte[] want = Arrays.copyOf(base, 2000);
        System.arraycopy(pattern, 0, want, 1000, 700);
        assertEquals(0, r.get(1L).error());
        assertArrayEquals(want, r.get(2L).data());
        assertEquals(0, r.get(3L).error());
        assertArrayEquals(new byte[8192], r.get(4L).data());
        assertEquals(0, r.get(5L).error());
        assertEquals(0, r.get(6L).error());
        assertEquals(NbdProtocol.EINVAL, r.get(7L).error(), "read past the end");
        assertEquals(NbdProtocol.EINVAL, r.get(8L).error(), "read over the payload cap");
        assertEquals(NbdProtocol.ENOSPC, r.get(9L).error(), "write past the end; payload skipped");
        assertEquals(NbdProtocol.EINVAL, r.get(10L).error(), "unknown command");
        assertEquals(NbdProtocol.EINVAL, r.get(11L).error(), "DF without structured replies");
        assertEquals(NbdProtocol.EINVAL, r.get(12L).error(), "offset >= 2^63");
        assertEquals(NbdProtocol.EINVAL, r.get(13L).error(), "FAST_ZERO not advertised");
        assertEquals(0, r.get(14L).error(), "FUA write at the very end");
        assertArrayEquals(Arrays.copyOf(pattern, 16), r.get(15L).data(), "the stream stayed in step");
        assertEquals(NbdProtocol.ENOSPC, r.get(16L).error(), "offset + length overflows");
    }

    @Test
    void theSameBytesComeBackForEverySplitOfTheInput() {
        byte[] script = writableSession().bytes();
        byte[] expected = run(new ScriptedTransport(script));
        for (int split = 0; split <= script.length; split++) {
            assertArrayEquals(expected, run(new ScriptedTransport(script, split)), "split at " + split);
        }
        for (int chunk = 1; chunk <= 7; chunk++) {
            assertArrayEquals(expected, run(ScriptedTransport.chunked(script, chunk)), chunk + " bytes per read");
        }
    }

    @Test
    void fourWorkersGiveTheSameRepliesInSomeOrder() {
        Script s = writableSession();
        Parsed one = parse(run(new ScriptedTransport(s.bytes())), s.readLengths);
        NbdLimits four = new NbdLimits(LIMITS.maxPayload(), 4, 8192, 64, 64 << 10, 4);
        for (int i = 0; i < 50; i++) {
            ScriptedTransport t = ScriptedTransport.chunked(s.bytes(), 1 + i % 5);
            new NbdConnection(t, exports, four).run();
            Parsed p = parse(t.written.toByteArray(), s.readLengths);
            assertEquals(one.options().size(), p.options().size());
            List<String> a = one.replies().stream().map(NbdConnectionTest::describe).sorted().toList();
            List<String> b = p.replies().stream().map(NbdConnectionTest::describe).sorted().toList();
            assertEquals(a, b);
        }
    }

    static String describe(SimpleReply r) {
        return r.cookie() + ":" + r.error() + ":" + Arrays.hashCode(r.data());
    }

    @Test
    void readOnlyExportsRefuseWritesAndStayInStep() {
        Script s = new Script();
        s.raw(ByteBuffer.allocate(4).putInt(NbdProtocol.FLAG_C_FIXED_NEWSTYLE).array());
        s.option(NbdProtocol.OPT_GO, infoRequest("ro"));
        s.request(0, NbdProtocol.CMD_WRITE, 1, 0, 4096).raw(new byte[4096]);
        s.request(0, NbdProtocol.CMD_TRIM, 2, 0, 4096);
        s.request(0, NbdProtocol.CMD_WRITE_ZEROES, 3, 0, 4096);
        s.request(0, NbdProtocol.CMD_READ, 4, 100, 50);
        s.request(0, NbdProtocol.CMD_FLUSH, 5, 0, 0);
        Parsed p = parse(run(new ScriptedTransport(s.bytes())), s.readLengths);
        ByteBuffer export = ByteBuffer.wrap(p.options().getFirst().data());
        export.getShort();
        export.getLong();
        assertTrue((export.getShort() & NbdProtocol.FLAG_READ_ONLY) != 0);
        assertEquals(NbdProtocol.EPERM, p.replies().get(0).error());
        assertEquals(NbdProtocol.EPERM, p.replies().get(1).error());
        assertEquals(NbdProtocol.EPERM, p.replies().get(2).error());
        assertArrayEquals(Arrays.copyOfRange(base, 100, 150), p.replies().get(3).data());
        assertEquals(0, p.replies().get(4).error());
    }

    @Test
    void exportNameEntersTransmissionAndUnknownNamesHangUp() {
        Script s = new Script();
        s.raw(ByteBuffer.allocate(4).putInt(NbdProtocol.FLAG_C_FIXED_NEWSTYLE).array());
        s.option(NbdProtocol.OPT_EXPORT_NAME, "disk".getBytes());
        s.request(0, NbdProtocol.CMD_READ, 1, 0, 8);
        byte[] out = run(new ScriptedTransport(s.bytes()));
        ByteBuffer b = ByteBuffer.wrap(out, 18, out.length - 18);
        assertEquals(SIZE, b.getLong());
        b.getShort();
        b.position(b.position() + 124); // zeroes: the client did not ask for NO_ZEROES
        assertEquals(NbdProtocol.SIMPLE_REPLY_MAGIC, b.getInt());
        assertEquals(0, b.getInt());
        assertEquals(1, b.getLong());
        assertEquals(8, b.remaining());

        Script bad = new Script();
        bad.raw(ByteBuffer.allocate(4).putInt(NbdProtocol.FLAG_C_FIXED_NEWSTYLE).array());
        bad.option(NbdProtocol.OPT_EXPORT_NAME, "nope".getBytes());
        assertEquals(18, run(new ScriptedTransport(bad.bytes())).length, "nothing but the greeting, then closed");

        Script flags = new Script().raw(new byte[] {0, 0, 0, 4});
        assertEquals(18, run(new ScriptedTransport(flags.bytes())).length, "unknown client flags: closed");
    }
}
