package io.sandboxd.api.http;

import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.ReferenceCountUtil;

/**
 * The body limit of each request, before aggregation: API bodies are small JSON documents, but file writes of the
 * volume file API ({@code /volumecontent/...}) may be larger. A body over its limit, announced or as it arrives
 * (chunked), gets 413 with a JSON body and the connection is closed (what follows cannot be framed).
 */
final class BodyLimit extends ChannelInboundHandlerAdapter {
    private final int small;
    private final java.util.List<String> largePrefixes;
    private final int large;
    private long limit;
    private long seen;
    private boolean refused;

    BodyLimit(int small, String largePrefix, int large) {
        this(small, java.util.List.of(largePrefix), large);
    }

    BodyLimit(int small, java.util.List<String> largePrefixes, int large) {
        this.small = small;
        this.largePrefixes = java.util.List.copyOf(largePrefixes);
        this.large = large;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (refused) {
            ReferenceCountUtil.release(msg);
            return;
        }
        if (msg instanceof HttpRequest req && req.decoderResult().isSuccess()) {
            limit = largePrefixes.stream().anyMatch(req.uri()::startsWith) ? large : small;
            seen = 0;
            if (HttpUtil.getContentLength(req, -1L) > limit) {
                refuse(ctx, msg);
                return;
            }
        }
        if (msg instanceof HttpContent c) {
            seen += c.content().readableBytes();
            if (seen > limit) {
                refuse(ctx, msg);
                return;
            }
        }
        ctx.fireChannelRead(msg);
    }

    private void refuse(ChannelHandlerContext ctx, Object msg) {
        refused = true;
        ReferenceCountUtil.release(msg);
        ctx.writeAndFlush(tooLarge(limit)).addListener(ChannelFutureListener.CLOSE);
    }

    static FullHttpResponse tooLarge(long limit) {
        byte[] body = Json.bytes(Json.error(413, "Request body is larger than " + limit + " bytes"));
        var response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE,
                Unpooled.wrappedBuffer(body));
        response.headers().set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_JSON)
                .setInt(HttpHeaderNames.CONTENT_LENGTH, body.length)
                .set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        return response;
    }
}
