package io.sandboxd.api.http;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Gives a client a fixed time from the first byte of a request to the end of that request, head and body. A client
 * that sends a head one byte at a time (slowloris) keeps an idle timer from ever firing; this one fires anyway, and
 * the client gets 408 and a closed connection. Sits in front of the HTTP codec, so it sees raw bytes and answers
 * with raw bytes (the codec may be in the middle of a head). Event loop only.
 */
public final class RequestDeadline extends ChannelInboundHandlerAdapter {
    private final Duration deadline;
    private ChannelHandlerContext ctx;
    private ScheduledFuture<?> timer;

    public RequestDeadline(Duration deadline) {
        this.deadline = deadline;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (timer == null && msg instanceof ByteBuf b && b.isReadable()) {
            timer = ctx.executor().schedule(this::expired, deadline.toNanos(), TimeUnit.NANOSECONDS);
        }
        ctx.fireChannelRead(msg);
    }

    /** The whole request arrived (the handler after the codec saw it): the next byte starts the next deadline. */
    public void requestReceived() {
        if (timer != null) {
            timer.cancel(false);
            timer = null;
        }
    }

    private void expired() {
        timer = null;
        if (!ctx.channel().isActive()) {
            return;
        }
        byte[] body = Json.bytes(Json.error(408, "The request did not arrive as a complete request within "
                + deadline.toSeconds() + " s of its first byte"));
        String head = "HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\ncontent-length: " + body.length
                + "\r\nconnection: close\r\n\r\n";
        ByteBuf out = Unpooled.buffer(head.length() + body.length)
                .writeBytes(head.getBytes(StandardCharsets.US_ASCII)).writeBytes(body);
        ctx.writeAndFlush(out).addListener(ChannelFutureListener.CLOSE);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        requestReceived();
        ctx.fireChannelInactive();
    }
}
