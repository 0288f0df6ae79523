package io.sandboxd.api;

import io.netty.handler.codec.http.HttpMethod;
import io.sandboxd.api.auth.ApiKeyStore;
import io.sandboxd.api.http.ApiChannelInitializer;
import io.sandboxd.api.http.HttpError;
import io.sandboxd.api.http.RestDispatcher;
import io.sandboxd.api.http.RestResponse;
import io.sandboxd.api.http.Router;
import io.sandboxd.api.metrics.ApiMetrics;
import io.sandboxd.api.sandbox.SandboxEndpoints;
import io.sandboxd.api.sandbox.SnapshotEndpoints;
import io.sandboxd.api.sandbox.SandboxService;
import io.sandboxd.api.secret.SecretEndpoints;
import io.sandboxd.api.team.TeamEndpoints;
import io.sandboxd.api.template.TemplateEndpoints;
import io.sandboxd.api.volume.VolumeEndpoints;
import java.net.InetSocketAddress;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
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
        return routes(ApiServices.of(sandboxes, null));
    }

    /** The routes of every area {@code services} provides; the others answer 501. */
    public static Router routes(ApiServices services) {
        Router router = new Router();
        router.add(HttpMethod.GET, "/health", Router.Access.PUBLIC, r -> RestResponse.noContent());
        if (services.metrics() != ApiMetrics.NONE) {
            // unauthenticated, as Prometheus scrapes it: it names no team's data, only counts
            router.add(HttpMethod.GET, "/metrics", Router.Access.PUBLIC, r -> {
                ApiMetrics.Exposition e = services.metrics().scrape();
                return RestResponse.text(e.contentType(), e.body());
            });
        }
        new SandboxEndpoints(services.sandboxes()).register(router);
        Set<String> served = new HashSet<>();
        if (services.snapshots() != null) {
            new SnapshotEndpoints(services.snapshots()).register(router);
            served.add("/snapshots");
        } else {
            SandboxEndpoints.registerWithoutSnapshots(router);
        }
        if (services.volumes() != null) {
            new VolumeEndpoints(services.volumes()).register(router);
            served.add("/volumes");
        }
        if (services.secrets() != null) {
            new SecretEndpoints(services.secrets()).register(router);
            served.add("/secrets");
        }
        if (services.teamKeys() != null) {
            // GET /teams is served; the rest of /teams (team metrics) stays in the 501 area below.
            new TeamEndpoints(services.teamKeys()).register(router);
            served.addAll(List.of("/access-tokens", "/api-keys"));
        }
        if (services.templates() != null) {
            new TemplateEndpoints(services.templates()).register(router);
            // The routes above come first; the other template paths (tags, legacy v2 builds) fall to the 501 area.
        }
        for (String area : NOT_YET) {
            if (served.contains(area)) {
                continue;
            }
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
        return start(address, ApiServices.of(sandboxes, keys), 2);
    }

    /** As {@link #start(InetSocketAddress, SandboxService, ApiKeyStore)} with {@code ioThreads} event loops. */
    public static ApiServer start(InetSocketAddress address, SandboxService sandboxes, ApiKeyStore keys,
                                  int ioThreads) throws InterruptedException {
        return start(address, ApiServices.of(sandboxes, keys), ioThreads);
    }

    /** The API over {@code services} with {@code ioThreads} event loops. */
    public static ApiServer start(InetSocketAddress address, ApiServices services, int ioThreads)
            throws InterruptedException {
        ExecutorService workers = Executors.newThreadPerTaskExecutor(
                Thread.ofVirtual().name("api-worker-", 0).factory());
        RestDispatcher dispatcher = new RestDispatcher(routes(services), services.keys(), services.metrics());
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
