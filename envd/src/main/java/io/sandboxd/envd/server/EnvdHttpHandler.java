package io.sandboxd.envd.server;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.util.ReferenceCountUtil;
import io.sandboxd.envd.auth.EnvdAuth;
import io.sandboxd.envd.connect.ConnectDispatcher;
import io.sandboxd.envd.http.FullRequest;
import io.sandboxd.envd.http.HttpExchange;
import io.sandboxd.envd.http.HttpResponses;
import io.sandboxd.envd.http.HttpRouter;
import java.io.ByteArrayOutputStream;
import java.util.ArrayDeque;
import java.util.Optional;
import java.util.concurrent.Executor;
import java.util.function.Supplier;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Per connection: routes each request to a stream route (its own handler in the pipeline), a Connect procedure,
 * or a small-body HTTP route, and checks the access token. One response at a time: reading stops while a response
 * is in progress (requests pipelined behind it wait in order), which also keeps a slow client from piling up
 * work.
 */
final class EnvdHttpHandler extends ChannelInboundHandlerAdapter {
    private static final Logger LOG = Logger.getLogger(EnvdHttpHandler.class.getName());
    static final String ROUTE_HANDLER_NAME = "envd-route";
    static final String ACCESS_TOKEN_HEADER = "X-Access-Token";

    private final HttpRouter http;
    private final ConnectDispatcher connect;
    private final EnvdAuth auth;
    private final Executor workers;
    private final int maxBodyBytes;

    private ChannelHandlerContext ctx;
    /** The current request's body goes to this exchange. */
    private HttpExchange receiving;
    /** The exchange whose response is being written. */
    private HttpExchange responding;
    /** The current request belongs to a stream route handler further down the pipeline. */
    private boolean forwarding;
    private boolean routeHandlerInstalled;
    private final ArrayDeque<Object> waiting = new ArrayDeque<>();

    EnvdHttpHandler(HttpRouter http, ConnectDispatcher connect, EnvdAuth auth, Executor workers, int maxBodyBytes) {
        this.http = http;
        this.connect = connect;
        this.auth = auth;
        this.workers = workers;
        this.maxBodyBytes = maxBodyBytes;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (responding != null) {
            // a pipelined request: answer it after the current response
            waiting.add(msg);
            return;
        }
        dispatch(msg);
    }

    private void dispatch(Object msg) {
        if (msg instanceof HttpRequest head) {
            removeRouteHandler();
            if (head.decoderResult().isFailure()) {
                ReferenceCountUtil.release(msg);
                Throwable cause = head.decoderResult().cause();
                FullHttpResponse r = switch (cause) {
                    case io.netty.handler.codec.http.TooLongHttpHeaderException t -> HttpResponses.error(
                            HttpResponseStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "request header fields are too large: "
                                    + t.getMessage());
                    case io.netty.handler.codec.http.TooLongHttpLineException t -> HttpResponses.error(
                            HttpResponseStatus.REQUEST_URI_TOO_LONG, "request line is too long: " + t.getMessage());
                    default -> HttpResponses.error(HttpResponseStatus.BAD_REQUEST,
                            "malformed HTTP request: " + cause.getMessage());
                };
                HttpUtil.setKeepAlive(r, false);
                ctx.writeAndFlush(r).addListener(f -> ctx.close());
                responding = Closing.INSTANCE;
                return;
            }
            QueryStringDecoder uri = new QueryStringDecoder(head.uri());
            String path = uri.path();
            Optional<Supplier<ChannelHandler>> stream = http.findStream(path);
            if (stream.isPresent()) {
                ctx.pipeline().addAfter(ctx.name(), ROUTE_HANDLER_NAME, stream.get().get());
                routeHandlerInstalled = true;
                forwarding = !(msg instanceof LastHttpContent);
                ctx.fireChannelRead(msg);
                return;
            }
            receiving = open(head, uri);
        }
        if (msg instanceof HttpContent content) {
            if (forwarding) {
                forwarding = !(msg instanceof LastHttpContent);
                ctx.fireChannelRead(msg);
                return;
            }
            HttpExchange ex = receiving;
            try {
                if (ex != null) {
                    ex.content(content.content());
                }
            } finally {
                content.release();
            }
            if (ex != null && msg instanceof LastHttpContent) {
                receiving = null;
                responding = ex;
                ctx.channel().config().setAutoRead(false);
                ex.end();
            }
        } else if (!(msg instanceof HttpRequest)) {
            ReferenceCountUtil.release(msg);
        }
    }

    private HttpExchange open(HttpRequest head, QueryStringDecoder uri) {
        String path = uri.path();
        boolean keepAlive = HttpUtil.isKeepAlive(head);
        HttpExchange.ResponseDone done = this::responseFinished;
        Optional<HttpRouter.Route> route = http.find(head.method(), path);
        if (route.isPresent()) {
            if (!route.get().open() && !tokenAccepted(head.headers())) {
                return new FixedExchange(unauthorized(), keepAlive, done);
            }
            return new FullRouteExchange(route.get().handler(), head, uri, keepAlive, done);
        }
        if (http.hasPath(path)) {
            return new FixedExchange(HttpResponses.error(HttpResponseStatus.METHOD_NOT_ALLOWED,
                    "method " + head.method() + " is not allowed on " + path), keepAlive, done);
        }
        if (connect.handles(path)) {
            if (!tokenAccepted(head.headers())) {
                return new FixedExchange(unauthorized(), keepAlive, done);
            }
            return connect.open(ctx, head, path, done);
        }
        return new FixedExchange(HttpResponses.error(HttpResponseStatus.NOT_FOUND, "no route for " + path),
                keepAlive, done);
    }

    private boolean tokenAccepted(HttpHeaders headers) {
        return auth.tokenAccepted(headers.get(ACCESS_TOKEN_HEADER));
    }

    private static FullHttpResponse unauthorized() {
        return HttpResponses.error(HttpResponseStatus.UNAUTHORIZED, EnvdAuth.UNAUTHORIZED_MESSAGE);
    }

    /** Runs on the event loop when the current response is written. */
    private void responseFinished(boolean keepAlive) {
        if (!ctx.executor().inEventLoop()) {
            ctx.executor().execute(() -> responseFinished(keepAlive));
            return;
        }
        responding = null;
        if (!keepAlive) {
            waiting.forEach(ReferenceCountUtil::release);
            waiting.clear();
            ctx.close();
            return;
        }
        while (responding == null && !waiting.isEmpty()) {
            dispatch(waiting.poll());
        }
        if (responding == null) {
            ctx.channel().config().setAutoRead(true);
            ctx.read();
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (receiving != null) {
            receiving.channelInactive();
            receiving = null;
        }
        if (responding != null) {
            responding.channelInactive();
        }
        waiting.forEach(ReferenceCountUtil::release);
        waiting.clear();
        ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (!(cause instanceof java.io.IOException)) {
            LOG.log(Level.WARNING, "connection " + ctx.channel().remoteAddress() + " failed", cause);
        }
        ctx.close();
    }

    private void removeRouteHandler() {
        if (routeHandlerInstalled) {
            routeHandlerInstalled = false;
            forwarding = false;
            if (ctx.pipeline().get(ROUTE_HANDLER_NAME) != null) {
                ctx.pipeline().remove(ROUTE_HANDLER_NAME);
            }
        }
    }

    /** A response decided from the head; the body is read and dropped first. */
    private final class FixedExchange implements HttpExchange {
        private final FullHttpResponse response;
        private final boolean keepAlive;
        private final ResponseDone done;

        FixedExchange(FullHttpResponse response, boolean keepAlive, ResponseDone done) {
            this.response = response;
            this.keepAlive = keepAlive;
            this.done = done;
        }

        @Override
        public void content(ByteBuf chunk) {
        }

        private boolean written;

        @Override
        public void end() {
            written = true;
            HttpUtil.setKeepAlive(response, keepAlive);
            ctx.writeAndFlush(response).addListener(f -> done.finished(keepAlive && f.isSuccess()));
        }

        @Override
        public void channelInactive() {
            if (!written) {
                response.release();
            }
        }
    }

    /** Reads a bounded body, then runs the route's handler on a worker. */
    private final class FullRouteExchange implements HttpExchange {
        private final io.sandboxd.envd.http.FullRequestHandler handler;
        private final HttpRequest head;
        private final QueryStringDecoder uri;
        private final boolean keepAlive;
        private final ResponseDone done;
        private final ByteArrayOutputStream body = new ByteArrayOutputStream();
        private boolean tooLarge;

        FullRouteExchange(io.sandboxd.envd.http.FullRequestHandler handler, HttpRequest head, QueryStringDecoder uri,
                          boolean keepAlive, ResponseDone done) {
            this.handler = handler;
            this.head = head;
            this.uri = uri;
            this.keepAlive = keepAlive;
            this.done = done;
        }

        @Override
        public void content(ByteBuf chunk) {
            if (tooLarge) {
                return;
            }
            if ((long) body.size() + chunk.readableBytes() > maxBodyBytes) {
                tooLarge = true;
                body.reset();
                return;
            }
            body.writeBytes(io.netty.buffer.ByteBufUtil.getBytes(chunk));
        }

        @Override
        public void end() {
            if (tooLarge) {
                write(HttpResponses.error(HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE,
                        "request body is larger than " + maxBodyBytes + " bytes"));
                return;
            }
            FullRequest request = new FullRequest(head.method(), uri, head.headers(), body.toByteArray());
            workers.execute(() -> {
                FullHttpResponse r;
                try {
                    r = handler.handle(request);
                } catch (Exception | Error e) {
                    LOG.log(Level.WARNING, head.method() + " " + uri.path() + " failed", e);
                    r = HttpResponses.error(HttpResponseStatus.INTERNAL_SERVER_ERROR, String.valueOf(e.getMessage()));
                }
                FullHttpResponse response = r;
                ctx.executor().execute(() -> write(response));
            });
        }

        private void write(FullHttpResponse r) {
            HttpUtil.setKeepAlive(r, keepAlive);
            ctx.writeAndFlush(r).addListener(f -> done.finished(keepAlive && f.isSuccess()));
        }

        @Override
        public void channelInactive() {
        }
    }

    /** Marks a connection that is being closed after a fatal request error. */
    private enum Closing implements HttpExchange {
        INSTANCE;

        @Override
        public void content(ByteBuf chunk) {
        }

        @Override
        public void end() {
        }

        @Override
        public void channelInactive() {
        }
    }
}
