package io.sandboxd.envd.connect;

import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.HttpRequest;
import io.sandboxd.envd.auth.EnvdAuth;
import io.sandboxd.envd.http.HttpExchange;
import java.util.concurrent.Executor;

/**
 * Turns HTTP requests on procedure paths into Connect calls: one {@link ConnectCall} per request. Holds what
 * every call shares: the procedures, the auth, the worker pool handlers run on, and the body limit.
 */
public final class ConnectDispatcher {
    static final String UNARY_CONTENT_TYPE = "application/json";
    static final String STREAM_CONTENT_TYPE = "application/connect+json";

    private final ConnectRouter router;
    private final EnvdAuth auth;
    private final Executor workers;
    private final int maxMessageBytes;

    /**
     * @param workers         runs handlers; must not be an event loop (handlers block)
     * @param maxMessageBytes largest request message accepted; bigger ones get {@code resource_exhausted}
     */
    public ConnectDispatcher(ConnectRouter router, EnvdAuth auth, Executor workers, int maxMessageBytes) {
        this.router = router;
        this.auth = auth;
        this.workers = workers;
        this.maxMessageBytes = maxMessageBytes;
    }

    public ConnectRouter router() {
        return router;
    }

    /** True when {@code path} is a registered procedure or shaped like one (answered {@code unimplemented}). */
    public boolean handles(String path) {
        return router.find(path).isPresent() || ConnectRouter.looksLikeProcedure(path);
    }

    /** Starts a call for a request head on the event loop; the body follows through the exchange. */
    public HttpExchange open(ChannelHandlerContext ctx, HttpRequest head, String path,
                             HttpExchange.ResponseDone done) {
        return new ConnectCall(this, ctx.channel(), head, path, done);
    }

    EnvdAuth auth() {
        return auth;
    }

    Executor workers() {
        return workers;
    }

    int maxMessageBytes() {
        return maxMessageBytes;
    }
}
