package io.sandboxd.envd.connect;

import com.google.protobuf.Message;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.sandboxd.envd.http.HttpExchange;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;

/**
 * The response of one server-streaming call: HTTP 200 {@code application/connect+json}, one envelope per message,
 * each flushed on its own, and always an end-stream envelope last.
 *
 * <p>Every write is handed to the event loop with {@code execute} (never written inline, even from the loop), so
 * frames leave in the order they were sent no matter which thread sent them. At most {@link #MAX_IN_FLIGHT} bytes
 * are queued per stream: {@link #send} blocks beyond that, which is how a fast producer is slowed to the
 * client's pace.
 */
final class ConnectServerStream implements StreamSink<Message> {
    static final int MAX_IN_FLIGHT = 1 << 20;

    private final Channel channel;
    private final EventLoop loop;
    private final boolean keepAliveConnection;
    private final HttpExchange.ResponseDone done;
    private final Message keepaliveMessage;
    private final long keepaliveNanos;
    private final long deadlineNanos;

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition drained = lock.newCondition();
    private boolean open = true;
    private long inFlight;
    private final List<Consumer<CloseReason>> listeners = new ArrayList<>(2);
    private CloseReason reason;

    private volatile long lastSendNanos;
    private ScheduledFuture<?> deadlineTask;
    private ScheduledFuture<?> keepaliveTask;
    /** Flushes the response head of a handler that stays quiet; event-loop state, null once anything was flushed. */
    private ScheduledFuture<?> headFlushTask;

    /**
     * @param keepaliveMessage null for no keepalives
     * @param keepaliveNanos   {@code <= 0} for no keepalives
     * @param deadlineNanos    {@link System#nanoTime()} deadline or {@link Long#MAX_VALUE}
     */
    ConnectServerStream(Channel channel, boolean keepAliveConnection, HttpExchange.ResponseDone done,
                        Message keepaliveMessage, long keepaliveNanos, long deadlineNanos) {
        this.channel = channel;
        this.loop = channel.eventLoop();
        this.keepAliveConnection = keepAliveConnection;
        this.done = done;
        this.keepaliveMessage = keepaliveMessage;
        this.keepaliveNanos = keepaliveMessage == null ? 0 : keepaliveNanos;
        this.deadlineNanos = deadlineNanos;
    }

    /** Sends the response head and arms the deadline and keepalive timers. Call on the event loop. */
    void start() {
        HttpResponse head = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
        head.headers().set(HttpHeaderNames.CONTENT_TYPE, ConnectDispatcher.STREAM_CONTENT_TYPE);
        HttpUtil.setTransferEncodingChunked(head, true);
        HttpUtil.setKeepAlive(head, keepAliveConnection);
        // flushed with the first frame (a start event follows at once: one syscall instead of two); a handler
        // that stays quiet still gets its headers out shortly
        channel.write(head);
        headFlushTask = loop.schedule(() -> {
            headFlushTask = null;
            channel.flush();
        }, 50, TimeUnit.MILLISECONDS);
        lastSendNanos = System.nanoTime();
        if (deadlineNanos != Long.MAX_VALUE) {
            long delay = Math.max(0, deadlineNanos - System.nanoTime());
            deadlineTask = loop.schedule(() -> end(new ConnectException(ConnectCode.DEADLINE_EXCEEDED,
                    "the operation timed out (Connect-Timeout-Ms)"), CloseReason.DEADLINE), delay, TimeUnit.NANOSECONDS);
        }
        if (keepaliveNanos > 0) {
            keepaliveTask = loop.schedule(this::keepalive, keepaliveNanos, TimeUnit.NANOSECONDS);
        }
    }

    @Override
    public boolean send(Message message) {
        return sendJson(ConnectJson.print(message));
    }

    @Override
    public boolean send(Message message, byte[] canonicalJson) {
        return sendJson(canonicalJson);
    }

    private boolean sendJson(byte[] json) {
        ByteBuf frame = Envelope.encode(channel.alloc(), 0, json);
        int size = frame.readableBytes();
        lock.lock();
        try {
            if (!awaitRoomLocked(size)) {
                frame.release();
                return false;
            }
            inFlight += size;
            lastSendNanos = System.nanoTime();
            loop.execute(() -> {
                cancelHeadFlush();
                channel.writeAndFlush(new DefaultHttpContent(frame)).addListener(f -> {
                    written(size);
                    if (!f.isSuccess()) {
                        closed(CloseReason.CLIENT_GONE);
                    }
                });
            });
            return true;
        } finally {
            lock.unlock();
        }
    }

    /** The message frame and the end-stream frame in one flush (one write, one chunk for the client). */
    @Override
    public boolean sendLast(Message message, byte[] canonicalJson) {
        ByteBuf frame = Envelope.encode(channel.alloc(), 0, canonicalJson);
        int size = frame.readableBytes();
        List<Consumer<CloseReason>> toRun;
        lock.lock();
        try {
            if (!awaitRoomLocked(size)) {
                frame.release();
                return false;
            }
            toRun = markClosedLocked(CloseReason.COMPLETED);
            ByteBuf end = Envelope.encode(channel.alloc(), Envelope.FLAG_END_STREAM, ConnectJson.endStream(null));
            loop.execute(() -> {
                cancelTimers();
                channel.write(new DefaultHttpContent(frame));
                channel.writeAndFlush(new DefaultLastHttpContent(end))
                        .addListener(f -> done.finished(keepAliveConnection && f.isSuccess()));
            });
        } finally {
            lock.unlock();
        }
        toRun.forEach(l -> l.accept(CloseReason.COMPLETED));
        return true;
    }

    /**
     * Waits while too much is queued for the client (not on the event loop, which is what drains it). Call with
     * {@code lock} held; returns false when the stream closed meanwhile.
     */
    private boolean awaitRoomLocked(int size) {
        boolean onLoop = loop.inEventLoop();
        while (open && !onLoop && inFlight > 0 && inFlight + size > MAX_IN_FLIGHT) {
            drained.awaitUninterruptibly();
        }
        return open;
    }

    @Override
    public boolean isOpen() {
        lock.lock();
        try {
            return open;
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void complete() {
        end(null, CloseReason.COMPLETED);
    }

    @Override
    public void fail(ConnectException error) {
        end(error, CloseReason.FAILED);
    }

    @Override
    public void onClose(Consumer<CloseReason> listener) {
        CloseReason r;
        lock.lock();
        try {
            r = reason;
            if (r == null) {
                listeners.add(listener);
                return;
            }
        } finally {
            lock.unlock();
        }
        listener.accept(r);
    }

    /** The connection went away: stop producing, nothing more is written. */
    void clientGone() {
        closed(CloseReason.CLIENT_GONE);
    }

    /**
     * Marks the stream closed for {@code why} and wakes blocked senders. Call with {@code lock} held.
     *
     * @return the close listeners to run once the lock is released, or null if the stream was already closed
     */
    private List<Consumer<CloseReason>> markClosedLocked(CloseReason why) {
        if (!open) {
            return null;
        }
        open = false;
        reason = why;
        List<Consumer<CloseReason>> toRun = List.copyOf(listeners);
        listeners.clear();
        drained.signalAll();
        return toRun;
    }

    private void end(ConnectException error, CloseReason why) {
        List<Consumer<CloseReason>> toRun;
        lock.lock();
        try {
            toRun = markClosedLocked(why);
            if (toRun == null) {
                return;
            }
            ByteBuf frame = Envelope.encode(channel.alloc(), Envelope.FLAG_END_STREAM, ConnectJson.endStream(error));
            loop.execute(() -> {
                cancelTimers();
                channel.writeAndFlush(new DefaultLastHttpContent(frame))
                        .addListener(f -> done.finished(keepAliveConnection && f.isSuccess()));
            });
        } finally {
            lock.unlock();
        }
        toRun.forEach(l -> l.accept(why));
    }

    private void closed(CloseReason why) {
        List<Consumer<CloseReason>> toRun;
        lock.lock();
        try {
            toRun = markClosedLocked(why);
        } finally {
            lock.unlock();
        }
        if (toRun == null) {
            return;
        }
        loop.execute(this::cancelTimers);
        toRun.forEach(l -> l.accept(why));
    }

    private void written(int size) {
        lock.lock();
        try {
            inFlight -= size;
            drained.signalAll();
        } finally {
            lock.unlock();
        }
    }

    private void keepalive() {
        if (!isOpen()) {
            return;
        }
        long idle = System.nanoTime() - lastSendNanos;
        if (idle >= keepaliveNanos) {
            send(keepaliveMessage);
            idle = 0;
        }
        keepaliveTask = loop.schedule(this::keepalive, keepaliveNanos - idle, TimeUnit.NANOSECONDS);
    }

    private void cancelHeadFlush() {
        if (headFlushTask != null) {
            headFlushTask.cancel(false);
            headFlushTask = null;
        }
    }

    private void cancelTimers() {
        cancelHeadFlush();
        if (deadlineTask != null) {
            deadlineTask.cancel(false);
        }
        if (keepaliveTask != null) {
            keepaliveTask.cancel(false);
        }
    }
}
