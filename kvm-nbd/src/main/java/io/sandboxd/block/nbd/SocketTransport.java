package io.sandboxd.block.nbd;

import io.sandboxd.ffi.Errno;
import io.sandboxd.ffi.Libc;
import io.sandboxd.ffi.NativeException;
import io.sandboxd.ffi.Sockets;
import io.sandboxd.ffi.Tcp;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;

/**
 * A connected TCP socket used through its descriptor (a JDK {@code SocketChannel} hides it): {@code recv} and
 * {@code send} straight on direct buffers and mapped files, {@code MSG_MORE} so a reply header joins its data.
 * Blocking; {@link #shutdown} wakes blocked threads, {@link #close} releases the descriptor exactly once.
 */
final class SocketTransport implements Transport {
    private final int fd;
    /** Guards {@link #closed} against a shutdown from another thread racing the close (the number may be reused). */
    private final Object lifecycle = new Object();
    private volatile boolean shut;
    private boolean closed;

    /** Takes ownership of the connected socket {@code fd}. */
    SocketTransport(int fd) {
        this.fd = fd;
    }

    @Override
    public int read(ByteBuffer dst) throws IOException {
        if (!dst.hasRemaining()) {
            return 0;
        }
        MemorySegment seg = segment(dst);
        while (true) {
            long n = Tcp.recvRaw(fd, seg, seg.byteSize(), 0);
            if (n > 0) {
                dst.position(dst.position() + (int) n);
                return (int) n;
            }
            if (n == 0) {
                return -1;
            }
            if (-n != Errno.EINTR) {
                throw failure("recv", n);
            }
        }
    }

    @Override
    public void write(ByteBuffer src) throws IOException {
        send(src, Sockets.MSG_NOSIGNAL);
    }

    @Override
    public void write(ByteBuffer[] srcs) throws IOException {
        for (int i = 0; i < srcs.length; i++) {
            send(srcs[i], Sockets.MSG_NOSIGNAL | (i < srcs.length - 1 ? Tcp.MSG_MORE : 0));
        }
    }

    private void send(ByteBuffer src, int flags) throws IOException {
        if (!src.hasRemaining()) {
            return;
        }
        if (!src.isDirect()) {
            ByteBuffer copy = ByteBuffer.allocateDirect(src.remaining());
            copy.put(src.duplicate()).flip();
            send(copy, flags);
            src.position(src.limit());
            return;
        }
        MemorySegment seg = MemorySegment.ofBuffer(src);
        long done = 0;
        while (done < seg.byteSize()) {
            long n = Tcp.sendRaw(fd, seg.asSlice(done), seg.byteSize() - done, flags);
            if (n >= 0) {
                done += n;
            } else if (-n != Errno.EINTR) {
                throw failure("send", n);
            }
        }
        src.position(src.limit());
    }

    private static MemorySegment segment(ByteBuffer dst) {
        if (!dst.isDirect()) {
            throw new IllegalArgumentException("socket reads need a direct buffer");
        }
        return MemorySegment.ofBuffer(dst);
    }

    private IOException failure(String call, long negErrno) {
        if (shut) {
            return new java.nio.channels.AsynchronousCloseException();
        }
        return new IOException(new NativeException(call, (int) -negErrno).getMessage());
    }

    @Override
    public void shutdown() {
        synchronized (lifecycle) {
            if (shut || closed) {
                return;
            }
            shut = true;
            try {
                Tcp.shutdown(fd, Tcp.SHUT_RDWR);
            } catch (NativeException alreadyGone) {
                // ENOTCONN: the peer reset it; nothing is blocked on it then
            }
        }
    }

    @Override
    public void close() {
        synchronized (lifecycle) {
            shutdown();
            if (!closed) {
                closed = true;
                Libc.close(fd);
            }
        }
    }
}
