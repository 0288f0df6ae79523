package io.sandboxd.block.nbd;

import java.nio.ByteBuffer;

/**
 * Decodes fixed-newstyle client options from a buffer in read mode:
 * <pre>
 * 0  u64 magic "IHAVEOPT"   8  u32 option   12  u32 data length   16  data
 * </pre>
 * Consumes nothing until the whole option is buffered. A wrong magic, or data longer than {@code maxData} (a
 * client could announce 4 GiB), is a protocol violation: the server hangs up rather than buffer it.
 */
public final class OptionDecoder {
    public static final int HEADER_BYTES = 16;

    private OptionDecoder() {
    }

    public static OptionRequest decode(ByteBuffer in, int maxData) throws NbdProtocolException {
        if (in.remaining() < HEADER_BYTES) {
            return null;
        }
        int p = in.position();
        long magic = in.getLong(p);
        if (magic != NbdProtocol.IHAVEOPT) {
            throw new NbdProtocolException("bad option magic 0x" + Long.toHexString(magic));
        }
        int option = in.getInt(p + 8);
        long length = Integer.toUnsignedLong(in.getInt(p + 12));
        if (length > maxData) {
            throw new NbdProtocolException("option " + option + " carries " + length + " bytes (cap " + maxData + ")");
        }
        if (in.remaining() < HEADER_BYTES + length) {
            return null;
        }
        byte[] data = new byte[(int) length];
        in.get(p + HEADER_BYTES, data);
        in.position(p + HEADER_BYTES + (int) length);
        return new OptionRequest(option, data);
    }
}
