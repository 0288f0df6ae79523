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
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The API's last pipeline stage: hands each aggregated request to the worker executor (endpoints block on the
 * store and the orchestrator) and writes the answer back on the channel. Reading stops while a request is in
 * flight, so pipelined requests on one connection are answered in order.
 */
public final class RestHandler extends SimpleChannelInboundHandler<FullHttpRequest> {
    private static final Logger LOG = Logger.getLogger(RestHandler.class.getName());

    private final RestDispatcher dispatcher;
    private final Executor workers;
    /** Event-loop only: a request is being served, so an idle connection timer must not close it. */
    private boolean inFlight;

    public RestHandler(RestDispatcher dispatcher, Executor workers) {
        this.dispatcher = dispatcher;
        this.workers = workers;
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
        boolean keepAlive = HttpUtil.isKeepAlive(request);
        if (request.decoderResult().isFailure()) {
            String why = request.decoderResult().cause() == null ? "malformed request"
                    : request.decoderResult().cause().getMessage();
            write(ctx, RestResponse.error(400, "Bad HTTP request: " + why), false);
            return;
        }
        HttpMethod method = request.method();
        String uri = request.uri();
        HttpHeaders headers = request.headers().copy();
        byte[] body = ByteBufUtil.getBytes(request.content());
        ctx.channel().config().setAutoRead(false);
        inFlight = true;
        try {
            workers.execute(() -> write(ctx, dispatcher.dispatch(method, uri, headers, body), keepAlive));
        } catch (RejectedExecutionException e) {
            write(ctx, RestResponse.error(503, "sandboxd is shutting down"), false);
        }
    }

    private void write(ChannelHandlerContext ctx, RestResponse response, boolean keepAlive) {
        byte[] body = response.body() == null ? new byte[0] : Json.bytes(response.body());
        FullHttpResponse out = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1,
                HttpResponseStatus.valueOf(response.status()), Unpooled.wrappedBuffer(body));
        HttpHeaders h = out.headers();
        if (response.body() != null) {
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
                f.channel().close();
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
