package io.sandboxd.envd.http;

import io.netty.channel.ChannelHandler;
import io.netty.handler.codec.http.HttpMethod;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

/**
 * envd's plain HTTP endpoints. Two kinds:
 * <ul>
 *   <li>{@link #handle}: small bodies, read completely (bounded) and handed to a {@link FullRequestHandler} on a
 *       worker thread. The access token is checked first unless the route is registered as {@code open}.</li>
 *   <li>{@link #stream}: the route gets the raw request. For each request on {@code path}, a fresh handler from
 *       {@code perRequest} is added to the channel pipeline after the dispatcher and receives the
 *       {@link io.netty.handler.codec.http.HttpRequest} and every {@link io.netty.handler.codec.http.HttpContent}
 *       up to the {@link io.netty.handler.codec.http.LastHttpContent} (it must release them). It writes its own
 *       response with {@code ctx.channel()}/{@code ctx} and does its own auth ({@code /files} uses signatures).
 *       It stays in the pipeline until the next request arrives or the channel closes, so it may answer
 *       asynchronously; it must not block the event loop.</li>
 * </ul>
 */
public final class HttpRouter {
    /** A small-body route; {@code open} routes skip the access token check. */
    public record Route(HttpMethod method, String path, FullRequestHandler handler, boolean open) {
    }

    private final Map<String, Route> routes = new ConcurrentHashMap<>();
    private final Map<String, Supplier<ChannelHandler>> streams = new ConcurrentHashMap<>();

    /** A route that requires the access token (when one is set). */
    public HttpRouter handle(HttpMethod method, String path, FullRequestHandler handler) {
        return add(new Route(method, path, handler, false));
    }

    /** A route reachable without the access token ({@code /health}, {@code /init}). */
    public HttpRouter handleOpen(HttpMethod method, String path, FullRequestHandler handler) {
        return add(new Route(method, path, handler, true));
    }

    public HttpRouter stream(String path, Supplier<ChannelHandler> perRequest) {
        if (streams.putIfAbsent(path, perRequest) != null) {
            throw new IllegalStateException("stream route registered twice: " + path);
        }
        return this;
    }

    public Optional<Supplier<ChannelHandler>> findStream(String path) {
        return Optional.ofNullable(streams.get(path));
    }

    public Optional<Route> find(HttpMethod method, String path) {
        return Optional.ofNullable(routes.get(key(method, path)));
    }

    public boolean hasPath(String path) {
        return routes.values().stream().anyMatch(r -> r.path().equals(path));
    }

    private HttpRouter add(Route r) {
        if (routes.putIfAbsent(key(r.method(), r.path()), r) != null) {
            throw new IllegalStateException("route registered twice: " + r.method() + " " + r.path());
        }
        return this;
    }

    private static String key(HttpMethod m, String path) {
        return m.name() + " " + path;
    }
}
