package io.sandboxd.envd.files;

import io.netty.buffer.ByteBuf;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayDeque;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A request body handed from the event loop (which {@link #offer}s chunks as Netty decodes them) to the worker
 * thread that writes it to disk (which {@link #take}s them or reads it as an {@link InputStream}).
 *
 * <p>Memory is bounded: when more than {@link #HIGH_WATER} bytes wait, the {@link FlowControl} stops reading from
 * the socket, and resumes once the worker has brought the backlog under {@link #LOW_WATER}. TCP then slows the
 * client down.
 */
final class UploadBody extends InputStream {
    static final int HIGH_WATER = 4 << 20;
    static final int LOW_WATER = 1 << 20;

    /**
     * Told when the body crosses a water mark; called with no lock held, from either thread. Implementations read
     * {@link #paused()} when they act, not when they were told: a pause and a resume racing from the two threads
     * then still end in the latest state.
     */
    interface FlowControl {
        void changed();
    }

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition available = lock.newCondition();
    private final ArrayDeque<ByteBuf> chunks = new ArrayDeque<>();
    private final FlowControl flow;
    private long queued;
    private boolean paused;
    private boolean ended;
    private String abortReason;
    /** The chunk {@link #read} is consuming, owned by the worker. */
    private ByteBuf current;

    UploadBody(FlowControl flow) {
        this.flow = flow;
    }

    /** Event loop: one more chunk; ownership passes to this body. */
    void offer(ByteBuf chunk) {
        boolean pause = false;
        lock.lock();
        try {
            if (ended || abortReason != null) {
                chunk.release();
                return;
            }
            if (!chunk.isReadable()) {
                chunk.release();
                return;
            }
            chunks.add(chunk);
            queued += chunk.readableBytes();
            if (queued > HIGH_WATER && !paused) {
                paused = true;
                pause = true;
            }
            available.signalAll();
        } finally {
            lock.unlock();
        }
        if (pause) {
            flow.changed();
        }
    }

    /** Event loop: the last chunk arrived. */
    void end() {
        lock.lock();
        try {
            ended = true;
            available.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** The connection died: the worker's next read fails and queued chunks are freed. */
    void abort(String reason) {
        lock.lock();
        try {
            if (abortReason == null) {
                abortReason = reason;
            }
            chunks.forEach(ByteBuf::release);
            chunks.clear();
            queued = 0;
            available.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /**
     * Worker: the next chunk (the caller releases it), or null at the end of the body.
     *
     * @throws IOException when the client went away
     */
    ByteBuf take() throws IOException {
        boolean resume = false;
        ByteBuf c;
        lock.lock();
        try {
            while (chunks.isEmpty() && !ended && abortReason == null) {
                available.awaitUninterruptibly();
            }
            if (abortReason != null) {
                throw new IOException(abortReason);
            }
            c = chunks.poll();
            if (c == null) {
                return null;
            }
            queued -= c.readableBytes();
            if (paused && queued < LOW_WATER) {
                paused = false;
                resume = true;
            }
        } finally {
            lock.unlock();
        }
        if (resume) {
            flow.changed();
        }
        return c;
    }

    /** Worker: the next chunk if one is queued right now, without waiting. */
    ByteBuf poll() throws IOException {
        lock.lock();
        try {
            if (abortReason != null) {
                throw new IOException(abortReason);
            }
            if (chunks.isEmpty()) {
                return null;
            }
        } finally {
            lock.unlock();
        }
        return take();
    }

    /** True while reading from the socket should stay off (the backlog went over the high water mark). */
    boolean paused() {
        lock.lock();
        try {
            return paused;
        } finally {
            lock.unlock();
        }
    }

    /** Worker: reads and drops the rest of the body (after an error, so the connection can be reused). */
    void discardRest() throws IOException {
        if (current != null) {
            current.release();
            current = null;
        }
        ByteBuf c;
        while ((c = take()) != null) {
            c.release();
        }
    }

    @Override
    public int read() throws IOException {
        byte[] one = new byte[1];
        int n = read(one, 0, 1);
        return n < 0 ? -1 : one[0] & 0xff;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
        if (len == 0) {
            return 0;
        }
        while (current == null || !current.isReadable()) {
            if (current != null) {
                current.release();
                current = null;
            }
            current = take();
            if (current == null) {
                return -1;
            }
        }
        // Block for the first bytes only, then take whatever else is already queued: fewer, larger reads.
        int total = 0;
        while (true) {
            int n = Math.min(len - total, current.readableBytes());
            current.readBytes(b, off + total, n);
            total += n;
            if (total == len) {
                return total;
            }
            current.release();
            current = poll();
            if (current == null) {
                return total;
            }
        }
    }

    @Override
    public void close() {
        if (current != null) {
            current.release();
            current = null;
        }
    }
}
