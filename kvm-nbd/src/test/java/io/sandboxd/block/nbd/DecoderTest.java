package io.sandboxd.block.nbd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.ByteBuffer;
import org.junit.jupiter.api.Test;

/** The push decoders consume nothing until a message is whole, whatever the split. */
class DecoderTest {
    static byte[] request(int flags, int type, long cookie, long offset, int length) {
        return ByteBuffer.allocate(28).putInt(NbdProtocol.REQUEST_MAGIC).putShort((short) flags).putShort((short) type)
                .putLong(cookie).putLong(offset).putInt(length).array();
    }

    static byte[] option(int option, byte[] data) {
        return ByteBuffer.allocate(16 + data.length).putLong(NbdProtocol.IHAVEOPT).putInt(option).putInt(data.length)
                .put(data).array();
    }

    @Test
    void requestHeadersDecodeAtEverySplit() throws Exception {
        byte[] two = ByteBuffer.allocate(56).put(request(1, 6, 0x1122334455667788L, -2L, -1))
                .put(request(0, 0, 7, 4096, 512)).array();
        for (int split = 0; split <= two.length; split++) {
            ByteBuffer in = ByteBuffer.allocate(64);
            in.put(two, 0, split).flip();
            java.util.List<Request> got = new java.util.ArrayList<>();
            Request r;
            while ((r = RequestDecoder.decode(in)) != null) {
                got.add(r);
            }
            assertEquals(split / 28, got.size());
            int consumed = in.position();
            assertEquals(got.size() * 28, consumed, "nothing consumed from a partial header");
            in.compact().put(two, split, two.length - split).flip();
            while ((r = RequestDecoder.decode(in)) != null) {
                got.add(r);
            }
            assertEquals(2, got.size());
            assertEquals(new Request(1, 6, 0x1122334455667788L, -2L, 0xffff_ffffL), got.get(0));
            assertFalseOffset(got.get(0));
            assertEquals(new Request(0, 0, 7, 4096, 512), got.get(1));
        }
    }

    private static void assertFalseOffset(Request r) {
        assertEquals(false, r.offsetFitsInLong(), "an offset >= 2^63 is flagged, not treated as negative");
    }

    @Test
    void badRequestMagicIsAProtocolError() {
        byte[] b = request(0, 0, 1, 0, 1);
        b[0] ^= 1;
        assertThrows(NbdProtocolException.class, () -> RequestDecoder.decode(ByteBuffer.wrap(b)));
    }

    @Test
    void optionsDecodeAtEverySplitAndOversizedOnesAreRefusedBeforeBuffering() throws Exception {
        byte[] data = "export-name".getBytes();
        byte[] opt = option(NbdProtocol.OPT_GO, data);
        for (int split = 0; split <= opt.length; split++) {
            ByteBuffer in = ByteBuffer.allocate(64);
            in.put(opt, 0, split).flip();
            OptionRequest o = OptionDecoder.decode(in, 4096);
            if (split < opt.length) {
                assertNull(o);
                assertEquals(0, in.position());
                in.compact().put(opt, split, opt.length - split).flip();
                o = OptionDecoder.decode(in, 4096);
            }
            assertEquals(NbdProtocol.OPT_GO, o.option());
            assertArrayEquals(data, o.data());
            assertEquals(0, in.remaining());
        }
        // 4 GiB announced: refused from the 16-byte header alone.
        ByteBuffer huge = ByteBuffer.allocate(16).putLong(NbdProtocol.IHAVEOPT).putInt(1).putInt(-1).flip();
        assertThrows(NbdProtocolException.class, () -> OptionDecoder.decode(huge, 4096));
        byte[] bad = option(1, new byte[0]);
        bad[3] = 0;
        assertThrows(NbdProtocolException.class, () -> OptionDecoder.decode(ByteBuffer.wrap(bad), 4096));
    }
}
