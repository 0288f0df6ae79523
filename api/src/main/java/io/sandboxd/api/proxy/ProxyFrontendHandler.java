package io.sandboxd.api.proxy;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import io.sandboxd.api.http.Json;
import io.sandboxd.api.http.StrictHttpServerCodec;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayDeque;
import java.util.Objects;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * One client connection of the sandbox proxy. Each request is routed on its own (with the header rule, requests
 * on one connection may go to different sandboxes), relayed to the sandbox as a stream of HTTP objects and the
 * answer relayed back the same way: bodies are never held whole. Both connections have autoRead off; a side is
 * read only when the other can take more ({@code isWritable}), which is the backpressure. After a 101 answer both
 * HTTP codecs are removed and bytes flow untouched (WebSocket and other upgrades).
 *
 * <p>Everything here runs on the client connection's event loop; the sandbox connection is opened on the same
 * loop, so no state is shared across threads.
 */
final class ProxyFrontendHandler extends ChannelInboundHandlerAdapter {
    private static final Logger LOG = Logger.getLogger(ProxyFrontendHandler.class.getName());
    static final String TRAFFIC_TOKEN_HEADER = "e2b-traffic-access-token";
    static final int CONNECT_TIMEOUT_MILLIS = 5_000;

    private enum State {
        /** Waiting for the next request head. */
        IDLE,
        /** Head received; resolving the sandbox and connecting. */
        CONNECTING,
        /** Forwarding the request body to the sandbox. */
        RELAYING,
        /** Request fully forwarded; waiting for the end of the answer. */
        AWAITING_RESPONSE,
        /** The request was answered by the proxy itself; its body is read and dropped. */
        DISCARDING,
        /** After an upgrade: raw bytes both ways. */
        TUNNEL,
        CLOSED
    }

    private final SandboxRouter router;
    private final String domain;
    /** Messages read from the client that the current state cannot take yet (at most one socket read's worth). */
    private final ArrayDeque<Object> pending = new ArrayDeque<>();

    private ChannelHandlerContext ctx;
    private State state = State.IDLE;
    private Channel upstream;
    private InetSocketAddress upstreamTarget;
    private boolean upstreamReusable;
    private boolean requestKeepAlive;
    private boolean responseStarted;
    private boolean responseDone;
    private boolean responseKeepAlive;
    private boolean interimResponse;
    private boolean upgraded;
    private ProxyRoute route;

    ProxyFrontendHandler(SandboxRouter router, String domain) {
        this.router = router;
        this.domain = domain;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        ctx.read();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (state == State.CLOSED) {
            ReferenceCountUtil.release(msg);
            return;
        }
        pending.addLast(msg);
        drain();
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        if (upstream != null) {
            upstream.flush();
        }
        readMoreIfReady();
    }

    /** Processes what the client sent as far as the current state allows. */
    private void drain() {
        while (!pending.isEmpty()) {
            Object msg = pending.peekFirst();
            switch (state) {
                case IDLE -> {
                    pending.pollFirst();
                    if (msg instanceof HttpRequest request) {
                        startRequest(request);
                    } else {
                        // Content with no head (after a refused request): nothing to attach it to.
                        ReferenceCountUtil.release(msg);
                    }
                }
                case CONNECTING, AWAITING_RESPONSE -> {
                    return;
                }
                case RELAYING -> {
                    if (msg instanceof HttpContent c && c.decoderResult().isFailure()) {
                        pending.pollFirst();
                        bodyFailed(c);
                        return;
                    }
                    if (!upstream.isWritable()) {
                        upstream.flush();
                        return;
                    }
                    pending.pollFirst();
                    upstream.write(msg);
                    if (msg instanceof LastHttpContent) {
                        upstream.flush();
                        requestComplete();
                    }
                }
                case DISCARDING -> {
                    pending.pollFirst();
                    ReferenceCountUtil.release(msg);
                    if (msg instanceof HttpContent c && c.decoderResult().isFailure()) {
                        // The codec reads nothing more on this connection.
                        state = State.CLOSED;
                        ctx.close();
                        return;
                    }
                    if (msg instanceof LastHttpContent) {
                        state = State.IDLE;
                    }
                }
                case TUNNEL -> {
                    if (!upstream.isWritable()) {
                        upstream.flush();
                        return;
                    }
                    pending.pollFirst();
                    upstream.write(msg);
                }
                case CLOSED -> {
                    ReferenceCountUtil.release(pending.pollFirst());
                }
            }
        }
        if (upstream != null) {
            upstream.flush();
        }
    }

    /**
     * Asks the client for more only when nothing is waiting and the sandbox side can take it. While an answer is
     * awaited the client is read too (at most one read's worth is held, a pipelined request waits in
     * {@code pending}): otherwise a client that hangs up is not seen until the answer ends, and a long-running
     * stream (a code cell the caller gave up on) keeps the sandbox's connection open for nothing.
     */
    private void readMoreIfReady() {
        if (!pending.isEmpty() || !ctx.channel().isActive()) {
            return;
        }
        switch (state) {
            case IDLE, DISCARDING, AWAITING_RESPONSE -> ctx.read();
            case RELAYING, TUNNEL -> {
                if (upstream.isWritable()) {
                    ctx.read();
                }
            }
            default -> { }
        }
    }

    private void startRequest(HttpRequest request) {
        requestKeepAlive = HttpUtil.isKeepAlive(request);
        responseStarted = false;
        responseDone = false;
        interimResponse = false;
        if (request.decoderResult().isFailure()) {
            // Never forwarded: what the sandbox would make of its framing is exactly what cannot be known.
            Throwable cause = request.decoderResult().cause();
            refuse(request, new ProxyError(StrictHttpServerCodec.statusOf(cause), StrictHttpServerCodec.describe(cause),
                    null, null), false);
            return;
        }
        if (!request.uri().startsWith("/") && !request.uri().equals("*")) {
            // Absolute and authority forms name a host of their own, which would disagree with the routed one.
            refuse(request, ProxyError.badRequest("the request target must be a path, got '" + request.uri() + "'"),
                    false);
            return;
        }
        try {
            route = ProxyRoute.parse(request.headers(), domain);
        } catch (ProxyRoute.Invalid e) {
            refuse(request, ProxyError.badRequest(e.getMessage()), true);
            return;
        }
        if (route.port() == EnvdInternalRoutes.ENVD_PORT && EnvdInternalRoutes.isInternal(request.uri())) {
            refuse(request, new ProxyError(404, "Not found: " + request.uri() + " is internal to the sandbox",
                    route.sandboxId(), route.port()), true);
            return;
        }
        state = State.CONNECTING;
        ProxyRoute forRoute = route;
        router.resolve(route.sandboxId(), route.port()).whenComplete((resolution, failure) ->
                ctx.executor().execute(() -> resolved(request, forRoute, resolution, failure)));
    }

    private void resolved(HttpRequest request, ProxyRoute forRoute, SandboxRouter.Resolution resolution,
                          Throwable failure) {
        if (state != State.CONNECTING) {
            ReferenceCountUtil.release(request);
            return;
        }
        if (failure != null) {
            LOG.log(Level.WARNING, "routing " + forRoute + " failed", failure);
            refuse(request, new ProxyError(500, "Routing failed: " + failure.getMessage(), forRoute.sandboxId(),
                    null), true);
            return;
        }
        switch (resolution) {
            case SandboxRouter.Resolution.NotFound() ->
                    refuse(request, ProxyError.sandboxNotFound(forRoute.sandboxId()), true);
            case SandboxRouter.Resolution.Paused() -> refuse(request, ProxyError.paused(forRoute.sandboxId()), true);
            case SandboxRouter.Resolution.Transitioning() ->
                    refuse(request, ProxyError.transitioning(forRoute.sandboxId()), true);
            case SandboxRouter.Resolution.Found(var target, var token) -> {
                if (token != null && forRoute.port() != EnvdInternalRoutes.ENVD_PORT
                        && !tokenMatches(token, request.headers().get(TRAFFIC_TOKEN_HEADER))) {
                    refuse(request, new ProxyError(403, "Missing or invalid " + TRAFFIC_TOKEN_HEADER
                            + " header: this sandbox does not allow public traffic", forRoute.sandboxId(),
                            forRoute.port()), true);
                    return;
                }
                connect(request, forRoute, target);
            }
        }
    }

    private static boolean tokenMatches(String expected, String given) {
        return given != null && MessageDigest.isEqual(expected.getBytes(StandardCharsets.UTF_8),
                given.getBytes(StandardCharsets.UTF_8));
    }

    private void connect(HttpRequest request, ProxyRoute forRoute, InetSocketAddress target) {
        if (upstream != null && upstream.isActive() && upstreamReusable && target.equals(upstreamTarget)) {
            forward(request);
            return;
        }
        closeUpstream();
        ChannelFuture f = new Bootstrap()
                .group(ctx.channel().eventLoop())
                .channel(NioSocketChannel.class)
                .option(ChannelOption.AUTO_READ, false)
                .option(ChannelOption.TCP_NODELAY, true)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, CONNECT_TIMEOUT_MILLIS)
                .handler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ch.pipeline().addLast("http", new HttpClientCodec())
                                .addLast("backend", new ProxyBackendHandler(ProxyFrontendHandler.this));
                    }
                })
                .connect(target);
        upstream = f.channel();
        upstreamTarget = target;
        f.addListener((ChannelFutureListener) done -> {
            if (state != State.CONNECTING || done.channel() != upstream) {
                ReferenceCountUtil.release(request);
                done.channel().close();
                return;
            }
            if (!done.isSuccess()) {
                upstream = null;
                router.unreachable(forRoute.sandboxId(), forRoute.port());
                refuse(request, ProxyError.portClosed(forRoute.sandboxId(), forRoute.port()), true);
                return;
            }
            done.channel().read();
            forward(request);
        });
    }

    private void forward(HttpRequest request) {
        upstreamReusable = false;
        state = State.RELAYING;
        upstream.write(request);
        if (request instanceof LastHttpContent) {
            upstream.flush();
            requestComplete();
        }
        drain();
        readMoreIfReady();
    }

    /**
     * The body turned out malformed (a bad chunk) after its head was forwarded: the sandbox's connection is cut
     * before it sees an end of body, so the request never reaches it whole; the client gets 400, or a cut connection
     * if the answer had begun.
     */
    private void bodyFailed(HttpContent failed) {
        Throwable cause = failed.decoderResult().cause();
        ReferenceCountUtil.release(failed);
        Channel u = upstream;
        upstream = null;
        if (u != null) {
            u.close();
        }
        if (responseStarted) {
            state = State.CLOSED;
            ctx.close();
            return;
        }
        refuse(emptyRequest(), new ProxyError(400, StrictHttpServerCodec.describe(cause), route.sandboxId(),
                route.port()), false);
    }

    private void requestComplete() {
        if (responseDone) {
            exchangeComplete();
        } else {
            state = State.AWAITING_RESPONSE;
        }
    }

    /** The proxy answers the request itself; the rest of its body (if any) is dropped. */
    private void refuse(HttpRequest request, ProxyError error, boolean keepAlive) {
        boolean complete = request instanceof LastHttpContent;
        ReferenceCountUtil.release(request);
        byte[] body = Json.bytes(error.body());
        var response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.valueOf(error.status()),
                Unpooled.wrappedBuffer(body));
        response.headers().set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_JSON)
                .setInt(HttpHeaderNames.CONTENT_LENGTH, body.length);
        boolean keep = keepAlive && requestKeepAlive;
        if (!keep) {
            response.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        }
        ChannelFuture written = ctx.writeAndFlush(response);
        if (!keep) {
            written.addListener(ChannelFutureListener.CLOSE);
            state = State.CLOSED;
            pending.forEach(ReferenceCountUtil::release);
            pending.clear();
            return;
        }
        state = complete ? State.IDLE : State.DISCARDING;
        drain();
        readMoreIfReady();
    }

    // ---- the sandbox side ----

    void fromUpstream(Channel from, Object msg) {
        if (from != upstream || state == State.CLOSED) {
            ReferenceCountUtil.release(msg);
            return;
        }
        if (state == State.TUNNEL) {
            ctx.write(msg); // flushed at the end of the sandbox side's read
            readUpstreamIfReady();
            return;
        }
        if (responseDone || (state != State.RELAYING && state != State.AWAITING_RESPONSE)) {
            // Nothing was asked (say, a 408 on an idle keep-alive connection): never hand it to the client.
            ReferenceCountUtil.release(msg);
            closeUpstream();
            if (state == State.RELAYING) {
                state = State.DISCARDING; // the rest of the request body has nowhere to go now
            }
            return;
        }
        if (msg instanceof HttpResponse response) {
            int code = response.status().code();
            interimResponse = code >= 100 && code < 200 && code != 101;
            if (!interimResponse) {
                responseStarted = true;
                responseKeepAlive = HttpUtil.isKeepAlive(response);
                upgraded = code == 101;
                if (!upgraded && code != 204 && code != 304 && !HttpUtil.isContentLengthSet(response)
                        && !HttpUtil.isTransferEncodingChunked(response)) {
                    // A body that ends when the sandbox closes: the client can only see its end if we close too.
                    responseKeepAlive = false;
                }
                if (!requestKeepAlive && !upgraded) {
                    response.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
                }
            }
        }
        boolean last = msg instanceof LastHttpContent;
        ChannelFuture written = ctx.write(msg);
        if (last && interimResponse) {
            interimResponse = false;
            ctx.flush();
            readUpstreamIfReady();
            return;
        }
        if (!last) {
            if (!(msg instanceof HttpContent) || ((HttpContent) msg).content().isReadable()) {
                // Streaming bodies (Connect server streams, logs) must reach the client as they come.
                ctx.flush();
            }
            readUpstreamIfReady();
            return;
        }
        ctx.flush();
        if (upgraded) {
            startTunnel();
            return;
        }
        responseDone = true;
        upstreamReusable = responseKeepAlive;
        if (!requestKeepAlive || !responseKeepAlive) {
            written.addListener(ChannelFutureListener.CLOSE);
            closeUpstream();
            state = State.CLOSED;
            return;
        }
        if (state == State.AWAITING_RESPONSE) {
            exchangeComplete();
        }
        readUpstreamIfReady();
    }

    void upstreamReadComplete(Channel from) {
        if (from == upstream) {
            ctx.flush();
        }
    }

    private void exchangeComplete() {
        state = State.IDLE;
        drain();
        readMoreIfReady();
    }

    private void readUpstreamIfReady() {
        if (upstream != null && ctx.channel().isWritable()) {
            upstream.read();
        }
    }

    /** After a 101 both codecs go; whatever they had buffered is passed on as plain bytes. */
    private void startTunnel() {
        state = State.TUNNEL;
        ctx.pipeline().remove("http");
        upstream.pipeline().remove("http");
        drain();
        readMoreIfReady();
        readUpstreamIfReady();
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        if (ctx.channel().isWritable()) {
            readUpstreamIfReady();
        }
    }

    void upstreamWritabilityChanged(Channel from) {
        if (from == upstream && from.isWritable()) {
            drain();
            readMoreIfReady();
        }
    }

    void upstreamClosed(Channel from) {
        if (from != upstream) {
            return;
        }
        upstream = null;
        if (responseDone) {
            // Closed after a complete answer: only a request body still streaming in is left, and it is dropped.
            if (state == State.RELAYING) {
                state = State.DISCARDING;
                drain();
                readMoreIfReady();
            }
            return;
        }
        switch (state) {
            case RELAYING, AWAITING_RESPONSE -> {
                if (!responseStarted) {
                    // The sandbox hung up without answering: report it like a closed port.
                    state = State.CONNECTING;
                    router.unreachable(route.sandboxId(), route.port());
                    refuse(emptyRequest(), ProxyError.portClosed(route.sandboxId(), route.port()), false);
                } else {
                    ctx.close();
                }
            }
            case TUNNEL -> ctx.close();
            default -> { }
        }
    }

    private static HttpRequest emptyRequest() {
        return new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/");
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        state = State.CLOSED;
        pending.forEach(ReferenceCountUtil::release);
        pending.clear();
        closeUpstream();
    }

    private void closeUpstream() {
        Channel u = upstream;
        upstream = null;
        upstreamTarget = null;
        if (u != null) {
            u.close();
        }
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
        if (evt instanceof io.netty.handler.timeout.IdleStateEvent) {
            if (state == State.IDLE && pending.isEmpty()) {
                ctx.close();
            }
            return;
        }
        super.userEventTriggered(ctx, evt);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        LOG.log(Level.FINE, "proxy client connection failed", cause);
        ctx.close();
    }

    @Override
    public String toString() {
        return "proxy " + ctx.channel() + " " + state + " " + Objects.toString(route);
    }

}
