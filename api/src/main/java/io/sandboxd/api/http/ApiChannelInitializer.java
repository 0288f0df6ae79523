package io.sandboxd.api.http;

import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.timeout.IdleStateHandler;
import java.time.Duration;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;

/**
 * The API pipeline: HTTP/1.1 codec, aggregation of the (small, JSON) bodies whether they come with a length or
 * chunked (Node's client sends them chunked), then {@link RestHandler}.
 */
public final class ApiChannelInitializer extends ChannelInitializer<SocketChannel> {
    /** API bodies are small JSON documents; larger ones are refused with 413. */
    public static final int MAX_BODY_BYTES = 1 << 20;

    /** Keep-alive connections with no request for this long are closed (clients reconnect transparently). */
    public static final Duration IDLE_TIMEOUT = Duration.ofMinutes(5);

    private final RestDispatcher dispatcher;
    private final Executor workers;
    private final Duration idleTimeout;

    public ApiChannelInitializer(RestDispatcher dispatcher, Executor workers) {
        this(dispatcher, workers, IDLE_TIMEOUT);
    }

    public ApiChannelInitializer(RestDispatcher dispatcher, Executor workers, Duration idleTimeout) {
        this.dispatcher = dispatcher;
        this.workers = workers;
        this.idleTimeout = idleTimeout;
    }

    @Override
    protected void initChannel(SocketChannel ch) {
        ch.pipeline()
                .addLast("idle", new IdleStateHandler(0, 0, idleTimeout.toMillis(), TimeUnit.MILLISECONDS))
                .addLast("http", new HttpServerCodec())
                .addLast("aggregate", new JsonErrorAggregator(MAX_BODY_BYTES))
                .addLast("rest", new RestHandler(dispatcher, workers));
    }

    /** Netty's aggregator answers an oversized body with an empty 413; the SDKs need a JSON body on every error. */
    private static final class JsonErrorAggregator extends HttpObjectAggregator {
        JsonErrorAggregator(int max) {
            super(max);
        }

        @Override
        protected void handleOversizedMessage(ChannelHandlerContext ctx, HttpMessage oversized) {
            byte[] body = Json.bytes(Json.error(413, "Request body is larger than " + MAX_BODY_BYTES + " bytes"));
            var response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1,
                    HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE, Unpooled.wrappedBuffer(body));
            response.headers().set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_JSON)
                    .setInt(HttpHeaderNames.CONTENT_LENGTH, body.length)
                    .set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
            ctx.writeAndFlush(response).addListener(ChannelFutureListener.CLOSE);
        }
    }
}
