package io.sandboxd.envd.connect;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class EnvelopeReaderTest {
    private static byte[] twoEnvelopes() {
        ByteBuf a = Envelope.encode(ByteBufAllocator.DEFAULT, 0, "{\"a\":1}".getBytes(StandardCharsets.UTF_8));
        ByteBuf b = Envelope.encode(ByteBufAllocator.DEFAULT, Envelope.FLAG_END_STREAM, "{}".getBytes(StandardCharsets.UTF_8));
        byte[] all = new byte[a.readableBytes() + b.readableBytes()];
        a.readBytes(all, 0, a.readableBytes());
        b.readBytes(all, all.length - b.readableBytes(), b.readableBytes());
        a.release();
        b.release();
        return all;
    }

    @Test
    void reassemblesEnvelopesSplitAtEveryOffset() {
        byte[] wire = twoEnvelopes();
        for (int i = 0; i <= wire.length; i++) {
            for (int j = i; j <= wire.length; j++) {
                EnvelopeReader r = new EnvelopeReader(1024);
                List<Envelope> got = new ArrayList<>();
                got.addAll(feed(r, wire, 0, i));
                got.addAll(feed(r, wire, i, j));
                got.addAll(feed(r, wire, j, wire.length));
                r.finish();
                assertEquals(2, got.size(), "split at " + i + "," + j);
                assertEquals(0, got.get(0).flags());
                assertArrayEquals("{\"a\":1}".getBytes(StandardCharsets.UTF_8), got.get(0).payload());
                assertEquals(Envelope.FLAG_END_STREAM, got.get(1).flags());
                assertArrayEquals("{}".getBytes(StandardCharsets.UTF_8), got.get(1).payload());
            }
        }
    }

    @Test
    void byteByByte() {
        byte[] wire = twoEnvelopes();
        EnvelopeReader r = new EnvelopeReader(1024);
        int n = 0;
        for (int i = 0; i < wire.length; i++) {
            n += feed(r, wire, i, i + 1).size();
        }
        r.finish();
        assertEquals(2, n);
    }

    @Test
    void emptyMessageIsAnEnvelope() {
        EnvelopeReader r = new EnvelopeReader(16);
        assertEquals(1, feed(r, new byte[] {0, 0, 0, 0, 0}, 0, 5).size());
    }

    @Test
    void bodyEndingInsideAnEnvelopeIsInvalidArgument() {
        byte[] wire = twoEnvelopes();
        for (int cut = 1; cut < 12; cut++) {
            EnvelopeReader r = new EnvelopeReader(1024);
            feed(r, wire, 0, cut);
            ConnectException e = assertThrows(ConnectException.class, r::finish, "cut at " + cut);
            assertEquals(ConnectCode.INVALID_ARGUMENT, e.code());
        }
    }

    @Test
    void announcedLengthAboveTheLimitIsRefusedBeforeBuffering() {
        EnvelopeReader r = new EnvelopeReader(1 << 20);
        byte[] header = {0, (byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff};
        ConnectException e = assertThrows(ConnectException.class, () -> feed(r, header, 0, header.length));
        assertEquals(ConnectCode.RESOURCE_EXHAUSTED, e.code());
    }

    private static List<Envelope> feed(EnvelopeReader r, byte[] wire, int from, int to) {
        ByteBuf chunk = Unpooled.wrappedBuffer(wire, from, to - from);
        try {
            return r.feed(chunk);
        } finally {
            chunk.release();
        }
    }
}
