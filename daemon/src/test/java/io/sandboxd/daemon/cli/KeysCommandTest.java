package io.sandboxd.daemon.cli;

import static io.sandboxd.daemon.cli.CliRun.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sandboxd.api.auth.KeyHash;
import io.sandboxd.daemon.store.Database;
import io.sandboxd.daemon.store.DatabaseUrl;
import io.sandboxd.daemon.store.Store;
import io.sandboxd.daemon.store.TestPostgres;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The real {@code sandboxd keys} command line against a real PostgreSQL. */
class KeysCommandTest {
    static String postgresUri(DatabaseUrl url) {
        // As a user would pass it: a libpq URI with credentials.
        return url.jdbcUrl().replace("jdbc:postgresql://", "postgres://" + url.user() + ":" + url.password() + "@");
    }

    @Test
    void createListRevokeAgainstAnExternalDatabase() throws Exception {
        DatabaseUrl url = TestPostgres.freshDatabaseUrl();
        String db = postgresUri(url);
        CliRun created = run("keys", "create", "--database-url", db, "--name", "laptop");
        assertEquals(0, created.exit(), created.err());
        String key = created.out().lines().findFirst().orElseThrow();
        assertTrue(KeyHash.API_KEY.matches(key) && key.length() == 44, key);
        String id = created.out().lines().skip(1).findFirst().orElseThrow().split(" ")[1];

        CliRun token = run("keys", "create", "--access-token", "--database-url", db);
        assertEquals(0, token.exit(), token.err());
        assertTrue(token.out().startsWith("sk_e2b_"), token.out());

        try (Store store = Store.over(Database.open(url, 2))) {
            assertTrue(store.keys().authenticate(KeyHash.API_KEY, key).isPresent(), "the printed key works");
        }

        CliRun listed = run("keys", "list", "--database-url", db);
        assertEquals(0, listed.exit(), listed.err());
        assertTrue(listed.out().contains(KeyHash.API_KEY.mask(key)), listed.out());
        assertTrue(listed.out().contains("access-token"), listed.out());
        assertFalse(listed.out().contains(key), "list never shows a key");

        CliRun revoked = run("keys", "revoke", id, "--database-url", db);
        assertEquals(0, revoked.exit(), revoked.err());
        try (Store store = Store.over(Database.open(url, 2))) {
            assertEquals(Optional.empty(), store.keys().authenticate(KeyHash.API_KEY, key));
        }
        CliRun again = run("keys", "revoke", id, "--database-url", db);
        assertEquals(KeysCommand.EXIT_NOT_FOUND, again.exit());
        assertTrue(again.err().contains(id), again.err());
    }

    @Test
    void usesTheEmbeddedServerOfTheDataDir() throws Exception {
        // The shared test server runs on this data dir, as `serve` would: the command attaches to it.
        String dataDir = TestPostgres.dataDir().toString();
        CliRun created = run("keys", "create", "--data-dir", dataDir);
        assertEquals(0, created.exit(), created.err());
        CliRun listed = run("keys", "list", "--data-dir", dataDir);
        List<String> rows = new ArrayList<>(listed.out().lines().toList());
        assertTrue(rows.size() >= 2, listed.out());
        assertTrue(listed.out().contains(KeyHash.API_KEY.mask(created.out().lines().findFirst().orElseThrow())));
    }

    @Test
    void badInputIsAClearErrorNotACrash() {
        CliRun badUrl = run("keys", "list", "--database-url", "mysql://x/y");
        assertEquals(KeysCommand.EXIT_STORE_FAILED, badUrl.exit());
        assertTrue(badUrl.err().contains("--database-url"), badUrl.err());
        CliRun badId = run("keys", "revoke", "not-a-uuid", "--database-url", "postgres://u:p@127.0.0.1:1/x");
        assertEquals(2, badId.exit(), "picocli usage error");
        CliRun unreachable = run("keys", "list", "--database-url", "postgres://u:secret@127.0.0.1:1/x");
        assertEquals(KeysCommand.EXIT_STORE_FAILED, unreachable.exit());
        assertFalse(unreachable.err().contains("secret"), unreachable.err());
    }
}
