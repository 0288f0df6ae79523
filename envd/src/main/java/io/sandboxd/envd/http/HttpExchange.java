package io.sandboxd.envd.http;

import io.netty.buffer.ByteBuf;

/**
 * One request being received by a route that reads its body through envd's dispatcher. Called on the event loop;
 * must not block. The exchange answers through the channel and then calls {@link ResponseDone#finished(boolean)}
 * exactly once.
 */
public interface HttpExchange {
    /** A body chunk; released by the caller after this returns (copy what you keep). */
    void content(ByteBuf chunk);

    /** The body is complete: handle the request. */
    void end();

    /** The connection closed before or while the response was written. */
    void channelInactive();

    /** Tells the dispatcher the response is fully written, so it can read the next request or close. */
    @FunctionalInterface
    interface ResponseDone {
        void finished(boolean keepAlive);
    }
}
