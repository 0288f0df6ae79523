package io.sandboxd.daemon.cli;

import io.sandboxd.daemon.store.Store;
import java.io.IOException;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** Where the daemon's state is: shared by {@code serve} and the admin commands that read the store directly. */
final class StoreOptions {
    static final String DEFAULT_DATA_DIR = "/var/lib/sandboxd";

    @Option(names = "--data-dir", defaultValue = "${env:SANDBOXD_DATA_DIR:-" + DEFAULT_DATA_DIR + "}",
            description = "Data directory (embedded PostgreSQL under <data-dir>/db). Default: ${DEFAULT-VALUE}.")
    Path dataDir;

    @Option(names = "--database-url", defaultValue = "${env:SANDBOXD_DATABASE_URL}",
            description = "An external PostgreSQL (postgres://user:pass@host:5432/db or jdbc:postgresql://…) instead"
                    + " of the embedded one.")
    String databaseUrl;

    Store open() throws IOException, InterruptedException {
        return Store.open(dataDir, databaseUrl);
    }
}
