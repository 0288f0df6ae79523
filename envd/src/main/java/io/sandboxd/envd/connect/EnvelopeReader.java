package io.sandboxd.envd.connect;

import io.netty.buffer.ByteBuf;
import java.util.ArrayList;
import java.util.List;

/**
 * Reassembles Connect envelopes from a request body that arrives in arbitrary chunks (split anywhere, even inside
 * the 5-byte header). A length above the limit is refused before anything is buffered, so a client cannot make
 * envd allocate what it announces.
 */
public final class EnvelopeReader {
    private final int maxMessageBytes;
    private final byte[] header = new byte[Envelope.HEADER_BYTES];
    private int headerFill;
    private byte[] payload;
    private int payloadFill;

    public EnvelopeReader(int maxMessageBytes) {
        this.maxMessageBytes = maxMessageBytes;
    }

    /**
     * Consumes all readable bytes of {@code chunk} (it is not released) and returns the envelopes it completed.
     *
     * @throws ConnectException {@code resource_exhausted} for an envelope above the limit
     */
    public List<Envelope> feed(ByteBuf chunk) {
        List<Envelope> out = List.of();
        while (chunk.isReadable()) {
            if (payload == null) {
                int n = Math.min(Envelope.HEADER_BYTES - headerFill, chunk.readableBytes());
                chunk.readBytes(header, headerFill, n);
                headerFill += n;
                if (headerFill < Envelope.HEADER_BYTES) {
                    break;
                }
                long length = ((header[1] & 0xffL) << 24) | ((header[2] & 0xff) << 16) | ((header[3] & 0xff) << 8)
                        | (header[4] & 0xff);
                if (length > maxMessageBytes) {
                    throw new ConnectException(ConnectCode.RESOURCE_EXHAUSTED,
                            "message size " + length + " is larger than configured max " + maxMessageBytes);
                }
                payload = new byte[(int) length];
                payloadFill = 0;
            }
            int n = Math.min(payload.length - payloadFill, chunk.readableBytes());
            chunk.readBytes(payload, payloadFill, n);
            payloadFill += n;
            if (payloadFill == payload.length) {
                if (out.isEmpty()) {
                    out = new ArrayList<>(1);
                }
                out.add(new Envelope(header[0] & 0xff, payload));
                payload = null;
                headerFill = 0;
            }
        }
        return out;
    }

    /**
     * Called at the end of the body.
     *
     * @throws ConnectException {@code invalid_argument} when the body stopped inside an envelope
     */
    public void finish() {
        if (headerFill > 0 || payload != null) {
            throw new ConnectException(ConnectCode.INVALID_ARGUMENT, "protocol error: incomplete envelope: "
                    + (payload == null ? headerFill + " of 5 header bytes"
                            : payloadFill + " of " + payload.length + " message bytes"));
        }
    }
}
