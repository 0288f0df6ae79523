package io.sandboxd.daemon.store;

import java.io.IOException;
import java.nio.file.Path;

/**
 * The daemon's state: a migrated database (embedded or external) and the repositories over it. Closing it closes
 * the pool, then stops the embedded server if this process started it.
 */
public final class Store implements AutoCloseable {
    private final EmbeddedPostgres embedded; // null with --database-url
    private final Database database;
    private final TeamRepository teams;
    private final KeyRepository keys;
    private final TemplateRepository templates;
    private final SandboxRepository sandboxes;
    private final VolumeRepository volumes;
    private final SecretRepository secrets;

    private Store(EmbeddedPostgres embedded, Database database) {
        this(embedded, database, "");
    }

    private Store(EmbeddedPostgres embedded, Database database, String nodeId) {
        this.embedded = embedded;
        this.database = database;
        this.teams = new TeamRepository(database.dataSource());
        this.keys = new KeyRepository(database.dataSource());
        this.templates = new TemplateRepository(database.dataSource());
        this.sandboxes = new SandboxRepository(database.dataSource(), nodeId);
        this.volumes = new VolumeRepository(database.dataSource());
        this.secrets = new SecretRepository(database.dataSource());
    }

    /**
     * Opens {@code databaseUrl} when given, else the embedded server under {@code <dataDir>/db} (started, or
     * attached to when another sandboxd process runs it).
     */
    public static Store open(Path dataDir, String databaseUrl) throws IOException, InterruptedException {
        if (databaseUrl != null) {
            return new Store(null, Database.open(DatabaseUrl.parse(databaseUrl), 20));
        }
        EmbeddedPostgres pg = EmbeddedPostgres.startOrAttach(dataDir.resolve("db"));
        try {
            return new Store(pg, Database.open(new DatabaseUrl(pg.jdbcUrl(), pg.user(), pg.password()), 20));
        } catch (RuntimeException e) {
            pg.close();
            throw e;
        }
    }

    /**
     * {@code databaseUrl}, shared by the nodes of a cluster: this node's sandbox rows carry {@code nodeId}, and its
     * reconciliation and TTL scans read only those.
     */
    public static Store openForNode(String databaseUrl, String nodeId) {
        return new Store(null, Database.open(DatabaseUrl.parse(databaseUrl), 20), nodeId);
    }

    /** Over an already open database as {@code nodeId} (tests). */
    public static Store over(Database database, String nodeId) {
        return new Store(null, database, nodeId);
    }

    /** Over an already open database (tests). */
    public static Store over(Database database) {
        return new Store(null, database);
    }

    public Database database() {
        return database;
    }

    public TeamRepository teams() {
        return teams;
    }

    public KeyRepository keys() {
        return keys;
    }

    public TemplateRepository templates() {
        return templates;
    }

    public SandboxRepository sandboxes() {
        return sandboxes;
    }

    public VolumeRepository volumes() {
        return volumes;
    }

    public SecretRepository secrets() {
        return secrets;
    }

    @Override
    public void close() {
        try {
            database.close();
        } finally {
            if (embedded != null) {
                embedded.close();
            }
        }
    }
}
