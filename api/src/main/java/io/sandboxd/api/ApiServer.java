package io.sandboxd.api;

import io.netty.handler.codec.http.HttpMethod;
import io.sandboxd.api.auth.ApiKeyStore;
import io.sandboxd.api.http.ApiChannelInitializer;
import io.sandboxd.api.http.HttpError;
import io.sandboxd.api.http.RestDispatcher;
import io.sandboxd.api.http.RestResponse;
import io.sandboxd.api.http.Router;
import io.sandboxd.api.sandbox.SandboxEndpoints;
import io.sandboxd.api.sandbox.SandboxService;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * The E2B REST API (port 3000): the sandbox endpoints, {@code /health}, and a clear 501 for the API areas
 * sandboxd does not serve yet (never a fake success).
 */
public final class ApiServer implements AutoCloseable {
    /** API areas of spec 1.4 outside the sandbox set. */
    static final List<String> NOT_YET = List.of("/templates", "/v2/templates", "/v3/templates", "/snapshots",
            "/volumes", "/secrets", "/teams", "/access-tokens", "/api-keys", "/nodes");

    private final NettyServer server;
    private final ExecutorService workers;

    private ApiServer(NettyServer server, ExecutorService workers) {
        this.server = server;
        this.workers = workers;
    }

    public static Router routes(SandboxService sandboxes) {
        Router router = new Router();
        router.add(HttpMethod.GET, "/health", Router.Access.PUBLIC, r -> RestResponse.noContent());
        new SandboxEndpoints(sandboxes).register(router);
        for (String area : NOT_YET) {
            String name = area.substring(area.lastIndexOf('/') + 1);
            router.addArea(area, r -> {
                throw HttpError.notImplemented(name + " (" + r.method() + " " + r.path()
                        + ") is not implemented in sandboxd yet");
            });
        }
        return router;
    }

    /** Starts the API on {@code address}; endpoint work runs on virtual threads (it blocks on the store). */
    public static ApiServer start(InetSocketAddress address, SandboxService sandboxes, ApiKeyStore keys)
            throws InterruptedException {
        return start(address, sandboxes, keys, 2);
    }

    /** As {@link #start(InetSocketAddress, SandboxService, ApiKeyStore)} with {@code ioThreads} event loops. */
    public static ApiServer start(InetSocketAddress address, SandboxService sandboxes, ApiKeyStore keys,
                                  int ioThreads) throws InterruptedException {
        ExecutorService workers = Executors.newThreadPerTaskExecutor(
                Thread.ofVirtual().name("api-worker-", 0).factory());
        RestDispatcher dispatcher = new RestDispatcher(routes(sandboxes), keys);
        try {
            NettyServer server = NettyServer.start("the E2B API", address, ioThreads,
                    new ApiChannelInitializer(dispatcher, workers));
            return new ApiServer(server, workers);
        } catch (RuntimeException | InterruptedException e) {
            workers.shutdownNow();
            throw e;
        }
    }

    public int port() {
        return server.port();
    }

    @Override
    public void close() {
        server.close();
        workers.shutdownNow();
    }
}
