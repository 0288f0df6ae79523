package io.sandboxd.envd;

import io.sandboxd.envd.auth.EnvdAuth;
import io.sandboxd.envd.auth.UserDatabase;
import io.sandboxd.envd.connect.ConnectDispatcher;
import io.sandboxd.envd.connect.ConnectRouter;
import io.sandboxd.envd.files.FilesRoute;
import io.sandboxd.envd.filesystem.FilesystemService;
import io.sandboxd.envd.http.HttpRouter;
import io.sandboxd.envd.process.ProcessService;
import io.sandboxd.envd.process.ProcessTable;
import io.sandboxd.envd.server.EnvdServer;
import io.sandboxd.envd.system.HostMetrics;
import io.sandboxd.envd.system.InitClock;
import io.sandboxd.envd.system.SystemRoutes;
import java.net.InetSocketAddress;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * envd wired together: shared state, auth, the two routers every service registers on, and the server. Services
 * are added in {@link #registerServices()}.
 */
public final class Envd implements AutoCloseable {
    private final EnvdState state;
    private final UserDatabase users;
    private final EnvdAuth auth;
    private final ConnectRouter connect = new ConnectRouter();
    private final HttpRouter http = new HttpRouter();
    private final ExecutorService workers;
    private final InitClock clock;
    private final java.util.List<AutoCloseable> closeables = new java.util.ArrayList<>();
    private EnvdServer server;

    private Envd(EnvdState state, UserDatabase users, InitClock clock) {
        this.state = state;
        this.users = users;
        this.clock = clock;
        this.auth = new EnvdAuth(state, users);
        this.workers = Executors.newCachedThreadPool(daemonThreads("envd-worker-"));
    }

    /** Starts envd on {@code address} with the system's user database. */
    public static Envd start(InetSocketAddress address, String defaultUser) throws InterruptedException {
        return start(address, new EnvdState(defaultUser), UserDatabase.system());
    }

    /** Starts envd outside a sandbox: its {@code /init} never sets the clock. */
    public static Envd start(InetSocketAddress address, EnvdState state, UserDatabase users)
            throws InterruptedException {
        return start(address, state, users, InitClock.never());
    }

    /** @param clock what {@code /init}'s timestamp may do to the clock: {@link InitClock#never()} but in a sandbox */
    public static Envd start(InetSocketAddress address, EnvdState state, UserDatabase users, InitClock clock)
            throws InterruptedException {
        Envd envd = new Envd(state, users, java.util.Objects.requireNonNull(clock, "clock"));
        try {
            envd.registerServices();
            envd.server = EnvdServer.start(address, envd.http,
                    new ConnectDispatcher(envd.connect, envd.auth, envd.workers, EnvdServer.MAX_BODY_BYTES),
                    envd.auth, envd.workers);
            return envd;
        } catch (RuntimeException | InterruptedException e) {
            envd.close();
            throw e;
        }
    }

    /** Every service envd serves registers its Connect procedures and HTTP routes here. */
    private void registerServices() {
        new SystemRoutes(state, HostMetrics.system(), clock).register(http);
        ProcessTable processes = new ProcessTable();
        closeOnShutdown(processes);
        ProcessService process = new ProcessService(auth, processes, workers);
        process.register(connect);
        closeOnShutdown(process);
        FilesystemService filesystem = new FilesystemService(auth);
        filesystem.register(connect);
        closeOnShutdown(filesystem::close);
        new FilesRoute(auth, filesystem.entries(), workers, java.time.Clock.systemUTC()).register(http);
    }

    /** Closes {@code c} when envd closes (watchers, process tables...). */
    public void closeOnShutdown(AutoCloseable c) {
        closeables.add(c);
    }

    public EnvdState state() {
        return state;
    }

    public EnvdAuth auth() {
        return auth;
    }

    public UserDatabase users() {
        return users;
    }

    public ConnectRouter connectRouter() {
        return connect;
    }

    public HttpRouter httpRouter() {
        return http;
    }

    /** The pool handlers run on: platform threads, may block. */
    public ExecutorService workers() {
        return workers;
    }

    public InetSocketAddress address() {
        return server.address();
    }

    public void awaitClose() throws InterruptedException {
        server.awaitClose();
    }

    @Override
    public void close() {
        if (server != null) {
            server.close();
        }
        for (AutoCloseable c : closeables.reversed()) {
            try {
                c.close();
            } catch (Exception e) {
                java.util.logging.Logger.getLogger(Envd.class.getName()).warning("close " + c + ": " + e);
            }
        }
        workers.shutdownNow();
    }

    static ThreadFactory daemonThreads(String prefix) {
        AtomicInteger n = new AtomicInteger();
        return r -> {
            Thread t = new Thread(r, prefix + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
    }
}
