package io.sandboxd.envd.files;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http.QueryStringDecoder;
import java.io.IOException;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The response side of one {@code /files} request, usable from the worker thread: a whole response, or a head
 * followed by body chunks written at the client's pace (a chunk is only written while the channel is writable, so
 * at most the channel's high water mark plus one chunk is buffered).
 */
final class FilesExchange {
    private final ChannelHandlerContext ctx;
    private final HttpRequest head;
    private final QueryStringDecoder uri;
    private final boolean keepAlive;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition writable = lock.newCondition();
    private volatile boolean responding;
    private volatile boolean inactive;
    /** Event loop only: the response is completely written. */
    private boolean done;
    private boolean requestComplete;
    private FullHttpResponse pendingAfterBody;

    FilesExchange(ChannelHandlerContext ctx, HttpRequest head, QueryStringDecoder uri, boolean keepAlive) {
        this.ctx = ctx;
        this.head = head;
        this.uri = uri;
        this.keepAlive = keepAlive;
    }

    HttpRequest head() {
        return head;
    }

    /** The first value of a query parameter, null when absent. */
    String query(String name) {
        List<String> v = uri.parameters().get(name);
        return v == null || v.isEmpty() ? null : v.get(0);
    }

    boolean responding() {
        return responding;
    }

    /** Event loop: true once the response is completely written. */
    boolean done() {
        return done;
    }

    boolean clientGone() {
        return inactive;
    }

    ChannelHandlerContext ctx() {
        return ctx;
    }

    /** A complete response; the request's body must have been consumed (or never be read). */
    void respond(FullHttpResponse response) {
        beginResponse();
        HttpUtil.setKeepAlive(response, keepAlive);
        ctx.writeAndFlush(response).addListener(this::finished);
    }

    /** Event loop: answer once the request body has been read and dropped (a response decided from the head). */
    void respondAfterBody(FullHttpResponse response) {
        if (requestComplete) {
            respond(response);
        } else {
            pendingAfterBody = response;
        }
    }

    /** Event loop: the request's last chunk arrived. */
    void requestComplete() {
        requestComplete = true;
        if (pendingAfterBody != null) {
            FullHttpResponse r = pendingAfterBody;
            pendingAfterBody = null;
            respond(r);
        }
    }

    /** Starts a streamed response. */
    void writeHead(HttpResponse response) {
        beginResponse();
        HttpUtil.setKeepAlive(response, keepAlive);
        ctx.writeAndFlush(response);
    }

    /**
     * Writes one body chunk (ownership passes on) once the connection can take it.
     *
     * @throws IOException when the client went away (the chunk is released)
     */
    void writeChunk(ByteBuf chunk) throws IOException {
        try {
            awaitWritable();
        } catch (IOException e) {
            chunk.release();
            throw e;
        }
        ctx.writeAndFlush(new DefaultHttpContent(chunk));
    }

    /** Ends a streamed response. */
    void writeEnd() {
        ctx.writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT).addListener(this::finished);
    }

    /** Gives up on a streamed response whose body cannot be completed: the client sees a cut connection. */
    void abortResponse() {
        ctx.executor().execute(ctx::close);
    }

    private void awaitWritable() throws IOException {
        lock.lock();
        try {
            while (!ctx.channel().isWritable()) {
                if (inactive || !ctx.channel().isActive()) {
                    throw new IOException("the client closed the connection during the download");
                }
                // Woken by channelWritabilityChanged; the timeout only guards against a lost wake-up.
                writable.await(100, TimeUnit.MILLISECONDS);
            }
            if (inactive) {
                throw new IOException("the client closed the connection during the download");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while sending a download", e);
        } finally {
            lock.unlock();
        }
    }

    void writabilityChanged() {
        lock.lock();
        try {
            writable.signalAll();
        } finally {
            lock.unlock();
        }
    }

    void channelInactive() {
        inactive = true;
        if (pendingAfterBody != null) {
            pendingAfterBody.release();
            pendingAfterBody = null;
        }
        writabilityChanged();
    }

    private void beginResponse() {
        responding = true;
        ctx.executor().execute(() -> ctx.channel().config().setAutoRead(false));
    }

    private void finished(io.netty.util.concurrent.Future<? super Void> f) {
        ChannelFuture cf = (ChannelFuture) f;
        done = true;
        if (!keepAlive || !cf.isSuccess()) {
            cf.channel().close();
            return;
        }
        ctx.executor().execute(() -> {
            responding = false;
            ctx.channel().config().setAutoRead(true);
            ctx.read();
        });
    }
}
