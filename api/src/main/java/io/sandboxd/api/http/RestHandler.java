package io.sandboxd.api.http;

import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.timeout.IdleStateEvent;
import java.util.ArrayDeque;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The API's last pipeline stage: hands each aggregated request to the worker executor (endpoints block on the
 * store and the orchestrator) and writes the answer back on the channel. Reading stops while a request is in
 * flight; requests the codec had already decoded from the same read (pipelined) wait in a queue, so answers leave
 * in request order.
 */
public final class RestHandler extends SimpleChannelInboundHandler<FullHttpRequest> {
    private static final Logger LOG = Logger.getLogger(RestHandler.class.getName());
    /** Pipelined requests held while one is served; a client that sends more is disconnected. */
    static final int MAX_QUEUED = 128;

    private final RestDispatcher dispatcher;
    private final Executor workers;
    private final RequestDeadline deadline;
    /** Event-loop only: a request is being served, so an idle connection timer must not close it. */
    private boolean inFlight;
    /** Event-loop only: requests that arrived while another was in flight. */
    private final ArrayDeque<Pending> queued = new ArrayDeque<>();

    /** One request as copied off its buffers, or the error it gets without being dispatched. */
    private record Pending(HttpMethod method, String uri, HttpHeaders headers, byte[] body, boolean keepAlive,
                           RestResponse refusal) {
    }

    public RestHandler(RestDispatcher dispatcher, Executor workers, RequestDeadline deadline) {
        this.dispatcher = dispatcher;
        this.workers = workers;
        this.deadline = deadline;
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
        deadline.requestReceived();
        Pending p = request.decoderResult().isFailure()
                // The framing of what follows cannot be trusted: answer and close.
                ? new Pending(null, null, null, null, false, badRequest(request.decoderResult().cause()))
                : new Pending(request.method(), request.uri(), request.headers().copy(),
                        ByteBufUtil.getBytes(request.content()), HttpUtil.isKeepAlive(request), null);
        ctx.channel().config().setAutoRead(false);
        if (inFlight) {
            if (queued.size() >= MAX_QUEUED) {
                LOG.fine("API client pipelined more than " + MAX_QUEUED + " requests: disconnected");
                ctx.close();
                return;
            }
            queued.add(p);
            return;
        }
        serve(ctx, p);
    }

    private void serve(ChannelHandlerContext ctx, Pending p) {
        inFlight = true;
        if (p.refusal() != null) {
            write(ctx, p.refusal(), false);
            return;
        }
        try {
            workers.execute(() -> write(ctx, dispatcher.dispatch(p.method(), p.uri(), p.headers(), p.body()),
                    p.keepAlive()));
        } catch (RejectedExecutionException e) {
            write(ctx, RestResponse.error(503, "sandboxd is shutting down"), false);
        }
    }

    private static RestResponse badRequest(Throwable cause) {
        return RestResponse.error(StrictHttpServerCodec.statusOf(cause), StrictHttpServerCodec.describe(cause));
    }

    private void write(ChannelHandlerContext ctx, RestResponse response, boolean keepAlive) {
        byte[] body = response.bytes() != null ? response.bytes()
                : response.body() == null ? new byte[0] : Json.bytes(response.body());
        FullHttpResponse out = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1,
                HttpResponseStatus.valueOf(response.status()), Unpooled.wrappedBuffer(body));
        HttpHeaders h = out.headers();
        if (response.bytes() != null) {
            h.set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_OCTET_STREAM);
        } else if (response.body() != null) {
            h.set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_JSON);
        }
        if (response.status() != 204) {
            // An explicit length, never a chunked empty body: the JS SDK fails on the latter.
            h.setInt(HttpHeaderNames.CONTENT_LENGTH, body.length);
        }
        response.headers().forEach(h::set);
        if (!keepAlive) {
            h.set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        }
        ctx.writeAndFlush(out).addListener((ChannelFutureListener) f -> {
            inFlight = false;
            if (!keepAlive || !f.isSuccess()) {
                queued.clear();
                f.channel().close();
                return;
            }
            Pending next = queued.poll();
            if (next != null) {
                serve(ctx, next);
                return;
            }
            f.channel().config().setAutoRead(true);
        });
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
        if (evt instanceof IdleStateEvent && !inFlight) {
            ctx.close();
            return;
        }
        super.userEventTriggered(ctx, evt);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        LOG.log(Level.FINE, "API connection failed", cause);
        ctx.close();
    }
}
