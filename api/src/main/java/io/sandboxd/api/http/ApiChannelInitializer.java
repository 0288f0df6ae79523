package io.sandboxd.api.http;

import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.timeout.IdleStateHandler;
import java.time.Duration;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;

/**
 * The API pipeline: a deadline for each request to arrive whole, the strict HTTP/1.1 codec, each request's body
 * limit ({@link BodyLimit}), aggregation of the bodies whether they come with a length or chunked (Node's client
 * sends them chunked), then {@link RestHandler}.
 */
public final class ApiChannelInitializer extends ChannelInitializer<SocketChannel> {
    /** API bodies are small JSON documents; larger ones are refused with 413. */
    public static final int MAX_BODY_BYTES = 1 << 20;

    /** File writes of the volume file API may be this large (the size it reads back in one answer too). */
    public static final int MAX_VOLUME_FILE_BYTES = 64 << 20;
    static final String VOLUME_CONTENT_PREFIX = "/volumecontent/";
    /** Where the SDK uploads the tar of a template COPY step (the upload link of {@code /templates/{id}/files/{hash}}). */
    public static final String TEMPLATE_FILES_PREFIX = "/templatefiles/";

    /** Keep-alive connections with no request for this long are closed (clients reconnect transparently). */
    public static final Duration IDLE_TIMEOUT = Duration.ofMinutes(5);

    /**
     * A request (head and body, at most {@link #MAX_BODY_BYTES}, or {@link #MAX_VOLUME_FILE_BYTES} for a volume file) must arrive within this time of its first byte;
     * the idle timeout alone never fires for a client that keeps sending a byte now and then.
     */
    public static final Duration REQUEST_DEADLINE = Duration.ofSeconds(30);

    private final RestDispatcher dispatcher;
    private final Executor workers;
    private final Duration idleTimeout;
    private final Duration requestDeadline;

    public ApiChannelInitializer(RestDispatcher dispatcher, Executor workers) {
        this(dispatcher, workers, IDLE_TIMEOUT);
    }

    public ApiChannelInitializer(RestDispatcher dispatcher, Executor workers, Duration idleTimeout) {
        this(dispatcher, workers, idleTimeout, REQUEST_DEADLINE);
    }

    public ApiChannelInitializer(RestDispatcher dispatcher, Executor workers, Duration idleTimeout,
                                 Duration requestDeadline) {
        this.dispatcher = dispatcher;
        this.workers = workers;
        this.idleTimeout = idleTimeout;
        this.requestDeadline = requestDeadline;
    }

    @Override
    protected void initChannel(SocketChannel ch) {
        RequestDeadline deadline = new RequestDeadline(requestDeadline);
        ch.pipeline()
                .addLast("idle", new IdleStateHandler(0, 0, idleTimeout.toMillis(), TimeUnit.MILLISECONDS))
                .addLast("deadline", deadline)
                .addLast("http", new StrictHttpServerCodec())
                .addLast("limit", new BodyLimit(MAX_BODY_BYTES, java.util.List.of(VOLUME_CONTENT_PREFIX, TEMPLATE_FILES_PREFIX), MAX_VOLUME_FILE_BYTES))
                .addLast("aggregate", new JsonErrorAggregator(MAX_VOLUME_FILE_BYTES))
                .addLast("rest", new RestHandler(dispatcher, workers, deadline));
    }

    /**
     * Netty's aggregator answers an oversized body, and an {@code Expect} it cannot meet, with an empty body; the
     * SDKs need a JSON body on every error. After a refused {@code Expect} the connection is closed: the client may
     * send the body anyway, and it must not be read as the next request.
     */
    private static final class JsonErrorAggregator extends HttpObjectAggregator {
        JsonErrorAggregator(int max) {
            super(max, true);
        }

        @Override
        protected void handleOversizedMessage(ChannelHandlerContext ctx, HttpMessage oversized) {
            ctx.writeAndFlush(tooLarge()).addListener(ChannelFutureListener.CLOSE);
        }

        @Override
        protected Object newContinueResponse(HttpMessage start, int maxContentLength, ChannelPipeline pipeline) {
            Object answer = super.newContinueResponse(start, maxContentLength, pipeline);
            if (answer instanceof FullHttpResponse r && r.status().code() >= 400) {
                int status = r.status().code();
                r.release();
                return status == 413 ? tooLarge() : error(HttpResponseStatus.EXPECTATION_FAILED,
                        "Expect: " + start.headers().get(HttpHeaderNames.EXPECT)
                                + " is not supported (only 100-continue is)");
            }
            return answer;
        }

        private static FullHttpResponse tooLarge() {
            return BodyLimit.tooLarge(MAX_VOLUME_FILE_BYTES);
        }

        private static FullHttpResponse error(HttpResponseStatus status, String message) {
            byte[] body = Json.bytes(Json.error(status.code(), message));
            var response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, Unpooled.wrappedBuffer(body));
            response.headers().set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_JSON)
                    .setInt(HttpHeaderNames.CONTENT_LENGTH, body.length)
                    .set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
            return response;
        }
    }
}
