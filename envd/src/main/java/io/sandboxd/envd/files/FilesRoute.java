package io.sandboxd.envd.files;

import io.sandboxd.envd.auth.EnvdAuth;
import io.sandboxd.envd.filesystem.EntryInfos;
import io.sandboxd.envd.http.HttpRouter;
import java.time.Clock;
import java.util.concurrent.Executor;

/**
 * {@code GET/POST /files} (spec 3.1, 3.2): downloads and uploads streamed between the socket and the disk by a
 * worker thread, with bounded memory per request. Registered as a stream route, so bodies reach it chunk by chunk.
 */
public final class FilesRoute {
    public static final String PATH = "/files";

    final EnvdAuth auth;
    final EntryInfos entries;
    final Executor workers;
    final Clock clock;

    public FilesRoute(EnvdAuth auth, EntryInfos entries, Executor workers, Clock clock) {
        this.auth = auth;
        this.entries = entries;
        this.workers = workers;
        this.clock = clock;
    }

    public void register(HttpRouter http) {
        http.stream(PATH, () -> new FilesHandler(this));
    }
}
