package io.sandboxd.block.nbd;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * The client side of the fixed newstyle handshake with NBD_OPT_GO: used to prepare a socket before it is handed to
 * the kernel driver (which only speaks the transmission phase), and by tests as a minimal client.
 */
public final class ClientHandshake {
    /** Byte stream the handshake runs over (a socket fd through libc, or a SocketChannel). */
    public interface Io {
        void writeFully(ByteBuffer src) throws IOException;

        /** Fills {@code dst}; EOFException when the stream ends first. */
        void readFully(ByteBuffer dst) throws IOException;
    }

    /** What OPT_GO told us about the export. */
    public record Negotiated(long size, int transmissionFlags, int minimumBlock, int preferredBlock, int maximumPayload) {
        public boolean readOnly() {
            return (transmissionFlags & NbdProtocol.FLAG_READ_ONLY) != 0;
        }
    }

    private ClientHandshake() {
    }

    public static Negotiated go(Io io, String exportName) throws IOException {
        ByteBuffer greeting = ByteBuffer.allocate(18);
        io.readFully(greeting);
        greeting.flip();
        if (greeting.getLong() != NbdProtocol.NBDMAGIC || greeting.getLong() != NbdProtocol.IHAVEOPT) {
            throw new IOException("not a newstyle NBD server (bad greeting magic)");
        }
        int handshakeFlags = Short.toUnsignedInt(greeting.getShort());
        if ((handshakeFlags & NbdProtocol.FLAG_FIXED_NEWSTYLE) == 0) {
            throw new IOException("server does not speak fixed newstyle");
        }
        int clientFlags = NbdProtocol.FLAG_C_FIXED_NEWSTYLE;
        if ((handshakeFlags & NbdProtocol.FLAG_NO_ZEROES) != 0) {
            clientFlags |= NbdProtocol.FLAG_C_NO_ZEROES;
        }
        byte[] name = exportName.getBytes(StandardCharsets.UTF_8);
        ByteBuffer opt = ByteBuffer.allocate(4 + 16 + 4 + name.length + 2 + 2);
        opt.putInt(clientFlags);
        opt.putLong(NbdProtocol.IHAVEOPT).putInt(NbdProtocol.OPT_GO).putInt(4 + name.length + 2 + 2);
        opt.putInt(name.length).put(name).putShort((short) 1).putShort((short) NbdProtocol.INFO_BLOCK_SIZE);
        io.writeFully(opt.flip());
        long size = -1;
        int flags = 0;
        int min = 1;
        int preferred = 4096;
        int max = 32 << 20;
        while (true) {
            ByteBuffer h = ByteBuffer.allocate(20);
            io.readFully(h);
            h.flip();
            if (h.getLong() != NbdProtocol.REPLY_MAGIC_OPT) {
                throw new IOException("bad option reply magic");
            }
            int option = h.getInt();
            int type = h.getInt();
            long length = Integer.toUnsignedLong(h.getInt());
            if (option != NbdProtocol.OPT_GO || length > 64 << 10) {
                throw new IOException("unexpected option reply (option " + option + ", " + length + " bytes)");
            }
            ByteBuffer data = ByteBuffer.allocate((int) length);
            io.readFully(data);
            data.flip();
            if (type == NbdProtocol.REP_ACK) {
                break;
            }
            if (type != NbdProtocol.REP_INFO) {
                throw new IOException("server refused export '" + exportName + "': reply type 0x"
                        + Integer.toHexString(type) + " " + StandardCharsets.UTF_8.decode(data));
            }
            if (data.remaining() >= 2) {
                int info = Short.toUnsignedInt(data.getShort());
                if (info == NbdProtocol.INFO_EXPORT && data.remaining() >= 10) {
                    size = data.getLong();
                    flags = Short.toUnsignedInt(data.getShort());
                } else if (info == NbdProtocol.INFO_BLOCK_SIZE && data.remaining() >= 12) {
                    min = data.getInt();
                    preferred = data.getInt();
                    max = data.getInt();
                }
            }
        }
        if (size < 0) {
            throw new IOException("server acknowledged GO without NBD_INFO_EXPORT");
        }
        return new Negotiated(size, flags, min, preferred, max);
    }

    /** {@link Io} over a blocking {@link java.nio.channels.SocketChannel}. */
    public static Io of(java.nio.channels.SocketChannel ch) {
        return new Io() {
            @Override
            public void writeFully(ByteBuffer src) throws IOException {
                while (src.hasRemaining()) {
                    ch.write(src);
                }
            }

            @Override
            public void readFully(ByteBuffer dst) throws IOException {
                while (dst.hasRemaining()) {
                    if (ch.read(dst) < 0) {
                        throw new EOFException("server closed the connection");
                    }
                }
            }
        };
    }
}
