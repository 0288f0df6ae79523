package io.sandboxd.daemon.store;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One real embedded PostgreSQL for the whole test run (started like {@code serve} starts it), and a fresh,
 * freshly migrated database per test so tests never see each other's rows.
 */
public final class TestPostgres {
    private static final AtomicInteger DATABASES = new AtomicInteger();
    private static EmbeddedPostgres server;
    private static Path dataDir;

    private TestPostgres() {}

    public static synchronized EmbeddedPostgres server() throws IOException, InterruptedException {
        if (server == null) {
            // Under /tmp (searchable by everyone) so the server's unprivileged user can reach it.
            dataDir = Files.createTempDirectory(Path.of("/tmp"), "sandboxd-store-test-");
            server = EmbeddedPostgres.startOrAttach(dataDir.resolve("db"));
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                server.close();
                try {
                    EmbeddedPostgres.deleteTree(dataDir);
                } catch (IOException ignored) {
                    // a temp dir left behind is harmless
                }
            }));
        }
        return server;
    }

    public static Path dataDir() throws IOException, InterruptedException {
        server();
        return dataDir;
    }

    /** A new empty database on the shared server, as a {@code --database-url}. */
    public static DatabaseUrl freshDatabaseUrl() throws IOException, InterruptedException, SQLException {
        EmbeddedPostgres pg = server();
        String name = "test_" + ProcessHandle.current().pid() + "_" + DATABASES.incrementAndGet();
        try (Connection c = pg.connect("postgres"); Statement st = c.createStatement()) {
            st.execute("CREATE DATABASE " + name);
        }
        return new DatabaseUrl("jdbc:postgresql://127.0.0.1:" + pg.port() + "/" + name, pg.user(), pg.password());
    }

    public static Database freshDatabase() throws IOException, InterruptedException, SQLException {
        return Database.open(freshDatabaseUrl(), 4);
    }
}
