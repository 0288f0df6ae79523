package io.sandboxd.block.nbd;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/** Writes server messages into a buffer in write mode (big-endian, the buffer's default). */
public final class ReplyEncoder {
    public static final int SIMPLE_REPLY_BYTES = 16;

    private ReplyEncoder() {
    }

    /** The opening of the fixed newstyle handshake (18 bytes). */
    public static void greeting(ByteBuffer out, int handshakeFlags) {
        out.putLong(NbdProtocol.NBDMAGIC).putLong(NbdProtocol.IHAVEOPT).putShort((short) handshakeFlags);
    }

    /** An option reply header plus {@code payloadLength} bytes the caller puts next. */
    public static void optionReplyHeader(ByteBuffer out, int option, int type, int payloadLength) {
        out.putLong(NbdProtocol.REPLY_MAGIC_OPT).putInt(option).putInt(type).putInt(payloadLength);
    }

    public static void optionReply(ByteBuffer out, int option, int type) {
        optionReplyHeader(out, option, type, 0);
    }

    /** An error reply with a message for humans (error replies may carry one). */
    public static void optionError(ByteBuffer out, int option, int type, String message) {
        byte[] m = message.getBytes(StandardCharsets.UTF_8);
        int n = Math.min(m.length, 4096);
        optionReplyHeader(out, option, type, n);
        out.put(m, 0, n);
    }

    public static void server(ByteBuffer out, String name, String description) {
        byte[] n = name.getBytes(StandardCharsets.UTF_8);
        byte[] d = description.getBytes(StandardCharsets.UTF_8);
        optionReplyHeader(out, NbdProtocol.OPT_LIST, NbdProtocol.REP_SERVER, 4 + n.length + d.length);
        out.putInt(n.length).put(n).put(d);
    }

    public static void infoExport(ByteBuffer out, int option, long size, int transmissionFlags) {
        optionReplyHeader(out, option, NbdProtocol.REP_INFO, 12);
        out.putShort((short) NbdProtocol.INFO_EXPORT).putLong(size).putShort((short) transmissionFlags);
    }

    public static void infoString(ByteBuffer out, int option, int infoType, String value) {
        byte[] v = value.getBytes(StandardCharsets.UTF_8);
        optionReplyHeader(out, option, NbdProtocol.REP_INFO, 2 + v.length);
        out.putShort((short) infoType).put(v);
    }

    public static void infoBlockSize(ByteBuffer out, int option, int minimum, int preferred, int maximum) {
        optionReplyHeader(out, option, NbdProtocol.REP_INFO, 14);
        out.putShort((short) NbdProtocol.INFO_BLOCK_SIZE).putInt(minimum).putInt(preferred).putInt(maximum);
    }

    /** The reply to NBD_OPT_EXPORT_NAME: size, flags and, unless the client asked for none, 124 zero bytes. */
    public static void exportNameReply(ByteBuffer out, long size, int transmissionFlags, boolean zeroes) {
        out.putLong(size).putShort((short) transmissionFlags);
        if (zeroes) {
            out.put(new byte[124]);
        }
    }

    public static void simpleReply(ByteBuffer out, int error, long cookie) {
        out.putInt(NbdProtocol.SIMPLE_REPLY_MAGIC).putInt(error).putLong(cookie);
    }
}
