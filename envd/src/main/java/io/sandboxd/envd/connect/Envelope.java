package io.sandboxd.envd.connect;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;

/**
 * A Connect streaming envelope: {@code [flags u8][length u32 big-endian][payload]}.
 *
 * @param flags   {@link #FLAG_COMPRESSED}, {@link #FLAG_END_STREAM}
 * @param payload the message bytes (JSON here)
 */
public record Envelope(int flags, byte[] payload) {
    public static final int HEADER_BYTES = 5;
    public static final int FLAG_COMPRESSED = 0x01;
    public static final int FLAG_END_STREAM = 0x02;

    /** Encodes one envelope into a new buffer from {@code alloc}; the caller owns it. */
    public static ByteBuf encode(ByteBufAllocator alloc, int flags, byte[] payload) {
        ByteBuf buf = alloc.buffer(HEADER_BYTES + payload.length);
        buf.writeByte(flags);
        buf.writeInt(payload.length);
        buf.writeBytes(payload);
        return buf;
    }
}
