package io.sandboxd.envd.files;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.util.ReferenceCountUtil;
import io.sandboxd.envd.http.HttpResponses;
import java.util.concurrent.RejectedExecutionException;

/**
 * One {@code /files} request on one connection (a fresh instance per request, placed in the pipeline by the
 * router). On the event loop it only moves chunks: the upload body into an {@link UploadBody} a worker drains, and
 * writability changes to the worker sending a download. Reading from the socket stays off while the response is
 * written, so a pipelined request cannot overtake it.
 */
final class FilesHandler extends ChannelInboundHandlerAdapter {
    private final FilesRoute route;
    private FilesExchange exchange;
    private UploadBody body;
    private boolean requestDone;

    FilesHandler(FilesRoute route) {
        this.route = route;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof HttpRequest head) {
            start(ctx, head);
        }
        if (msg instanceof HttpContent content) {
            if (body != null) {
                body.offer(content.content()); // ownership passes to the body
            } else {
                content.release();
            }
            if (msg instanceof LastHttpContent) {
                requestDone = true;
                if (exchange != null && !exchange.done()) {
                    // No next request until this response is out: it would be answered over this one.
                    ctx.channel().config().setAutoRead(false);
                }
                if (body != null) {
                    body.end();
                }
                if (exchange != null) {
                    exchange.requestComplete();
                }
            }
        } else if (!(msg instanceof HttpRequest)) {
            ReferenceCountUtil.release(msg);
        }
    }

    private void start(ChannelHandlerContext ctx, HttpRequest head) {
        QueryStringDecoder uri = new QueryStringDecoder(head.uri());
        boolean keepAlive = HttpUtil.isKeepAlive(head);
        exchange = new FilesExchange(ctx, head, uri, keepAlive);
        HttpMethod m = head.method();
        Runnable job;
        if (m.equals(HttpMethod.POST)) {
            body = new UploadBody(() -> {
                if (ctx.executor().inEventLoop()) {
                    applyFlow(ctx);
                } else {
                    ctx.executor().execute(() -> applyFlow(ctx));
                }
            });
            job = new FileUpload(route, exchange, body);
        } else if (m.equals(HttpMethod.GET) || m.equals(HttpMethod.HEAD)) {
            job = new FileDownload(route, exchange);
        } else {
            exchange.respondAfterBody(HttpResponses.error(HttpResponseStatus.METHOD_NOT_ALLOWED,
                    "method " + m + " is not allowed on /files (GET, HEAD and POST are)"));
            return;
        }
        try {
            route.workers.execute(job);
        } catch (RejectedExecutionException e) {
            if (body != null) {
                body.abort("envd is shutting down");
            }
            exchange.respondAfterBody(HttpResponses.error(HttpResponseStatus.SERVICE_UNAVAILABLE,
                    "envd is shutting down"));
        }
    }

    /** Event loop: reads from the socket while the upload backlog allows it (and no response is being written). */
    private void applyFlow(ChannelHandlerContext ctx) {
        if (body == null || requestDone || exchange.responding() || !ctx.channel().isActive()) {
            return;
        }
        boolean paused = body.paused();
        ctx.channel().config().setAutoRead(!paused);
        if (!paused) {
            ctx.read();
        }
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        if (exchange != null) {
            exchange.writabilityChanged();
        }
        ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (body != null && !requestDone) {
            body.abort("the client closed the connection before the upload ended");
        }
        if (exchange != null) {
            exchange.channelInactive();
        }
        ctx.fireChannelInactive();
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        if (body != null && !requestDone) {
            body.abort("the request handler was removed");
        }
    }
}
