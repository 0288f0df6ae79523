package io.sandboxd.envd.connect;

import com.google.protobuf.Message;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;

/**
 * The Connect procedures envd serves, by path {@code /package.Service/Method}. Services register themselves at
 * start-up:
 *
 * <pre>{@code
 * router.unary("filesystem.Filesystem", "Stat", StatRequest.getDefaultInstance(), this::stat);
 * router.serverStream("filesystem.Filesystem", "WatchDir", WatchDirRequest.getDefaultInstance(),
 *         WatchDirResponse.newBuilder().setKeepalive(KeepAlive.getDefaultInstance()).build(), this::watchDir);
 * }</pre>
 *
 * Request messages are parsed from canonical proto3 JSON (unknown fields ignored) and responses printed the
 * same way; the HTTP side (envelopes, statuses, deadlines, keepalives, auth) is handled by the server.
 */
public final class ConnectRouter {
    /** One registered procedure. */
    public sealed interface Procedure permits Unary, ServerStream {
        String path();

        Message requestPrototype();
    }

    public record Unary(String path, Message requestPrototype, UnaryHandler<Message, Message> handler)
            implements Procedure {
    }

    /**
     * @param keepalive the message sent when the stream was quiet for the client's {@code Keepalive-Ping-Interval};
     *                  null for a stream without keepalives
     * @param executor  runs the handler; null for the server's workers
     */
    public record ServerStream(String path, Message requestPrototype, Message keepalive,
                               StreamHandler<Message, Message> handler, Executor executor) implements Procedure {
    }

    private final Map<String, Procedure> procedures = new ConcurrentHashMap<>();

    @SuppressWarnings("unchecked")
    public <Req extends Message, Res extends Message> ConnectRouter unary(String service, String method,
            Req requestPrototype, UnaryHandler<Req, Res> handler) {
        String path = path(service, method);
        add(new Unary(path, requestPrototype, (UnaryHandler<Message, Message>) (UnaryHandler<?, ?>) handler));
        return this;
    }

    public <Req extends Message, Res extends Message> ConnectRouter serverStream(String service, String method,
            Req requestPrototype, Res keepalive, StreamHandler<Req, Res> handler) {
        return serverStream(service, method, requestPrototype, keepalive, handler, null);
    }

    /**
     * A stream whose handler runs on {@code executor} (null: the server's workers), for a procedure with a thread of
     * its own. The executor must never run its tasks on the event loop.
     */
    @SuppressWarnings("unchecked")
    public <Req extends Message, Res extends Message> ConnectRouter serverStream(String service, String method,
            Req requestPrototype, Res keepalive, StreamHandler<Req, Res> handler, Executor executor) {
        String path = path(service, method);
        add(new ServerStream(path, requestPrototype, keepalive,
                (StreamHandler<Message, Message>) (StreamHandler<?, ?>) handler, executor));
        return this;
    }

    public Optional<Procedure> find(String path) {
        return Optional.ofNullable(procedures.get(path));
    }

    /** True for paths shaped like a Connect procedure ({@code /pkg.Service/Method}), registered or not. */
    public static boolean looksLikeProcedure(String path) {
        int slash = path.indexOf('/', 1);
        return path.startsWith("/") && slash > 1 && slash < path.length() - 1
                && path.indexOf('/', slash + 1) < 0 && path.lastIndexOf('.', slash) > 0;
    }

    private void add(Procedure p) {
        if (procedures.putIfAbsent(p.path(), p) != null) {
            throw new IllegalStateException("procedure registered twice: " + p.path());
        }
    }

    private static String path(String service, String method) {
        Objects.requireNonNull(service, "service");
        Objects.requireNonNull(method, "method");
        return "/" + service + "/" + method;
    }
}
