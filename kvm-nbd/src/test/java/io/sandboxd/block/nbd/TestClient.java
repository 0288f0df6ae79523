package io.sandboxd.block.nbd;

import java.io.EOFException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;

/** A minimal synchronous NBD client for tests (one request at a time, simple replies). */
final class TestClient implements AutoCloseable {
    private final SocketChannel ch;
    final ClientHandshake.Negotiated negotiated;
    private long cookie;

    TestClient(int port, String export) throws IOException {
        ch = SocketChannel.open(new InetSocketAddress("127.0.0.1", port));
        negotiated = ClientHandshake.go(ClientHandshake.of(ch), export);
    }

    private int request(int flags, int type, long offset, long length, byte[] payload, ByteBuffer readInto)
            throws IOException {
        long c = ++cookie;
        ByteBuffer h = ByteBuffer.allocate(28).putInt(NbdProtocol.REQUEST_MAGIC).putShort((short) flags)
                .putShort((short) type).putLong(c).putLong(offset).putInt((int) length).flip();
        write(h);
        if (payload != null) {
            write(ByteBuffer.wrap(payload));
        }
        ByteBuffer r = ByteBuffer.allocate(16);
        read(r);
        r.flip();
        if (r.getInt() != NbdProtocol.SIMPLE_REPLY_MAGIC) {
            throw new IOException("bad reply magic");
        }
        int err = r.getInt();
        if (r.getLong() != c) {
            throw new IOException("reply for another cookie");
        }
        if (err == 0 && readInto != null) {
            read(readInto);
        }
        return err;
    }

    byte[] read(long offset, int length) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(length);
        int err = request(0, NbdProtocol.CMD_READ, offset, length, null, b);
        if (err != 0) {
            throw new IOException("read failed: " + err);
        }
        return b.array();
    }

    int write(long offset, byte[] data, int flags) throws IOException {
        return request(flags, NbdProtocol.CMD_WRITE, offset, data.length, data, null);
    }

    int flush() throws IOException {
        return request(0, NbdProtocol.CMD_FLUSH, 0, 0, null, null);
    }

    private void write(ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            ch.write(b);
        }
    }

    private void read(ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            if (ch.read(b) < 0) {
                throw new EOFException();
            }
        }
    }

    @Override
    public void close() throws IOException {
        try {
            write(ByteBuffer.allocate(28).putInt(NbdProtocol.REQUEST_MAGIC).putShort((short) 0)
                    .putShort((short) NbdProtocol.CMD_DISC).putLong(0).putLong(0).putInt(0).flip());
        } finally {
            ch.close();
        }
    }
}
