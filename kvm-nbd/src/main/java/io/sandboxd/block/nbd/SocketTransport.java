package io.sandboxd.block.nbd;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;

/** A blocking {@link SocketChannel}. */
final class SocketTransport implements Transport {
    private final SocketChannel ch;

    SocketTransport(SocketChannel ch) {
        this.ch = ch;
    }

    @Override
    public int read(ByteBuffer dst) throws IOException {
        return ch.read(dst);
    }

    @Override
    public void write(ByteBuffer src) throws IOException {
        while (src.hasRemaining()) {
            ch.write(src);
        }
    }

    @Override
    public void write(ByteBuffer[] srcs) throws IOException {
        ByteBuffer last = srcs[srcs.length - 1];
        while (last.hasRemaining()) {
            ch.write(srcs);
        }
    }

    @Override
    public void close() throws IOException {
        ch.close();
    }
}
