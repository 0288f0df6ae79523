package io.sandboxd.block.nbd;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.SocketChannel;

/** A blocking {@link SocketChannel}; large file reads go out with {@code sendfile} (FileChannel.transferTo). */
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
    public void sendFile(FileChannel file, long position, long length) throws IOException {
        long pos = position;
        long left = length;
        while (left > 0) {
            long n = file.transferTo(pos, left, ch);
            if (n <= 0) {
                throw new EOFException("sendfile made no progress at " + pos + " (file shrank?)");
            }
            pos += n;
            left -= n;
        }
    }

    @Override
    public void close() throws IOException {
        ch.close();
    }
}
