package io.sandboxd.block.nbd;

import java.nio.ByteBuffer;

/**
 * Decodes transmission request headers (28 bytes, big-endian) from a buffer in read mode:
 * <pre>
 * 0  u32 magic 0x25609513   4  u16 command flags   6  u16 type
 * 8  u64 cookie            16  u64 offset          24  u32 length
 * </pre>
 * {@link #decode} consumes nothing until a whole header is there, so callers can feed bytes as they arrive, split
 * anywhere. A WRITE's payload is not part of the header: the connection streams it.
 */
public final class RequestDecoder {
    public static final int HEADER_BYTES = 28;

    private RequestDecoder() {
    }

    /** The next header, or null when fewer than 28 bytes are buffered. */
    public static Request decode(ByteBuffer in) throws NbdProtocolException {
        if (in.remaining() < HEADER_BYTES) {
            return null;
        }
        int p = in.position();
        int magic = in.getInt(p);
        if (magic != NbdProtocol.REQUEST_MAGIC) {
            throw new NbdProtocolException("bad request magic 0x" + Integer.toHexString(magic));
        }
        Request r = new Request(Short.toUnsignedInt(in.getShort(p + 4)), Short.toUnsignedInt(in.getShort(p + 6)),
                in.getLong(p + 8), in.getLong(p + 16), Integer.toUnsignedLong(in.getInt(p + 24)));
        in.position(p + HEADER_BYTES);
        return r;
    }
}
