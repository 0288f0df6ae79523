package io.sandboxd.daemon.orchestrator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.sandboxd.api.ApiServer;
import io.sandboxd.api.ApiServices;
import io.sandboxd.api.auth.KeyHash;
import io.sandboxd.api.auth.SandboxTokens;
import io.sandboxd.api.auth.Team;
import io.sandboxd.api.http.Json;
import io.sandboxd.daemon.TestClock;
import io.sandboxd.daemon.envd.EnvdClient;
import io.sandboxd.daemon.runtime.FakeRuntime;
import io.sandboxd.daemon.secret.SecretKeyFile;
import io.sandboxd.daemon.store.Store;
import io.sandboxd.daemon.store.StoreApiKeyStore;
import io.sandboxd.daemon.store.TestPostgres;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Instant;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@code /secrets} and secret placeholders in a create's {@code envVars} over real HTTP: the daemon's API server,
 * the orchestrator over a fake runtime, a real store, the key file in a temp data dir.
 */
class SecretApiTest {
    static final String TEMPLATE = "tpl";
    /** A value no other text in these tests contains, so finding it anywhere is a leak. */
    static final String VALUE = "s3cr3t-VALUE-7f1c9a";
    static final String VALUE2 = "s3cr3t-VALUE-two-0b2d";
    Path dataDir;
    Store store;
    FakeRuntime runtime;
    Orchestrator orchestrator;
    ApiServer server;
    HttpClient http = HttpClient.newHttpClient();
    String key;
    String otherKey;
    String base;
    List<EnvdClient.Init> inits = new CopyOnWriteArrayList<>();
    /** Every response body and header seen, to check for the values. */
    StringBuilder seen = new StringBuilder();

    @BeforeEach
    void start() throws Exception {
        dataDir = Files.createTempDirectory("sandboxd-secret-api-");
        TestClock clock = new TestClock(Instant.parse("2026-01-01T00:00:00Z"));
        store = Store.over(TestPostgres.freshDatabase());
        Team team = store.teams().ensureDefault();
        Team other = store.teams().ensure("other");
        key = store.keys().create(KeyHash.API_KEY, team, "t").plaintext();
        otherKey = store.keys().create(KeyHash.API_KEY, other, "t").plaintext();
        runtime = new FakeRuntime("jail", clock);
        SandboxTokens tokens = new SandboxTokens(new byte[32]);
        SecretManager secrets = new SecretManager(store.secrets(), SecretKeyFile.loadOrCreate(dataDir), clock);
        orchestrator = new Orchestrator(store, runtime, tokens, (a, i) -> inits.add(i), "sandbox.test", clock, null,
                new io.sandboxd.daemon.metrics.DaemonMetrics(), secrets);
        orchestrator.registerTemplate(runtime.prepareTemplate(TEMPLATE, l -> { }), 1, 128);
        server = ApiServer.start(new InetSocketAddress("127.0.0.1", 0),
                ApiServices.of(orchestrator, new StoreApiKeyStore(store.keys())).withSecrets(secrets), 1);
        base = "http://127.0.0.1:" + server.port();
    }

    @AfterEach
    void stop() throws Exception {
        server.close();
        orchestrator.close();
        runtime.close();
        store.close();
        io.sandboxd.daemon.host.DirectoryTrees.deleteRecursively(dataDir);
    }

    record Answer(int status, String body, HttpResponse<String> raw) {
        JsonNode json() {
            return Json.parse(body.getBytes(StandardCharsets.UTF_8));
        }
    }

    Answer api(String method, String path, String key, String json) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path))
                .method(method, json == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(json));
        if (key != null) {
            b.header("X-API-KEY", key);
        }
        if (json != null) {
            b.header("Content-Type", "application/json");
        }
        HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
        seen.append(r.headers().map()).append('\n').append(r.body()).append('\n');
        return new Answer(r.statusCode(), r.body(), r);
    }

    JsonNode create(String name, String value) throws Exception {
        Answer a = api("POST", "/secrets", key, "{\"name\":\"" + name + "\",\"value\":\"" + value + "\"}");
        assertEquals(201, a.status(), a.body());
        return a.json();
    }

    static void assertSecretShape(JsonNode s) {
        assertEquals(List.of("secretID", "name", "currentVersion", "metadata", "createdAt", "updatedAt"),
                iterable(s.fieldNames()));
        assertTrue(s.get("secretID").asText().matches("sec_[a-z0-9]{20}"), s.toString());
        Instant.parse(s.get("createdAt").asText());
        Instant.parse(s.get("updatedAt").asText());
    }

    static List<String> iterable(java.util.Iterator<String> it) {
        List<String> out = new java.util.ArrayList<>();
        it.forEachRemaining(out::add);
        return out;
    }

    @Test
    void createGetUpdateListDestroy() throws Exception {
        Answer a = api("POST", "/secrets", key, "{\"name\":\"OpenAI-Key\",\"value\":\"" + VALUE
                + "\",\"metadata\":{\"owner\":\"ci\"}}");
        assertEquals(201, a.status(), a.body());
        JsonNode s = a.json();
        assertSecretShape(s);
        assertEquals("openai-key", s.get("name").asText(), "names are stored lower-cased");
        assertEquals(1, s.get("currentVersion").asLong());
        assertEquals("ci", s.get("metadata").get("owner").asText());
        String id = s.get("secretID").asText();

        assertEquals(id, api("GET", "/secrets/" + id, key, null).json().get("secretID").asText());
        assertEquals(id, api("GET", "/secrets/OPENAI-KEY", key, null).json().get("secretID").asText());

        Answer u = api("POST", "/secrets/openai-key", key, "{\"value\":\"" + VALUE2 + "\"}");
        assertEquals(200, u.status(), u.body());
        assertEquals(2, u.json().get("currentVersion").asLong());
        assertEquals("ci", u.json().get("metadata").get("owner").asText(), "no metadata given: kept");
        u = api("POST", "/secrets/" + id, key, "{\"value\":\"" + VALUE + "\",\"metadata\":{}}");
        assertEquals(3, u.json().get("currentVersion").asLong());
        assertEquals(0, u.json().get("metadata").size(), "metadata given: replaced");

        Answer list = api("GET", "/secrets", key, null);
        assertEquals(200, list.status(), list.body());
        assertEquals(1, list.json().size());
        assertSecretShape(list.json().get(0));
        assertTrue(list.raw().headers().firstValue("X-Next-Token").isEmpty());

        assertEquals(204, api("DELETE", "/secrets/" + id, key, null).status());
        assertEquals(404, api("GET", "/secrets/" + id, key, null).status());
        assertEquals(404, api("DELETE", "/secrets/" + id, key, null).status());
        assertEquals(404, api("POST", "/secrets/" + id, key, "{\"value\":\"x\"}").status());
        assertEquals(0, api("GET", "/secrets", key, null).json().size());
    }

    @Test
    void listPagesWithXNextToken() throws Exception {
        for (int i = 0; i < 5; i++) {
            create("n" + i, "v" + i);
        }
        Answer p1 = api("GET", "/secrets?limit=2", key, null);
        assertEquals(List.of("n0", "n1"), names(p1.json()));
        String next = p1.raw().headers().firstValue("X-Next-Token").orElseThrow();
        Answer p2 = api("GET", "/secrets?limit=2&nextToken=" + next, key, null);
        assertEquals(List.of("n2", "n3"), names(p2.json()));
        Answer p3 = api("GET", "/secrets?limit=2&nextToken=" + p2.raw().headers().firstValue("X-Next-Token").orElseThrow(),
                key, null);
        assertEquals(List.of("n4"), names(p3.json()));
        assertTrue(p3.raw().headers().firstValue("X-Next-Token").isEmpty());
        assertEquals(400, api("GET", "/secrets?limit=0", key, null).status());
        assertEquals(400, api("GET", "/secrets?limit=101", key, null).status());
        assertEquals(400, api("GET", "/secrets?limit=x", key, null).status());
        assertEquals(400, api("GET", "/secrets?nextToken=bogus", key, null).status());
        assertEquals(400, api("GET", "/secrets?nextToken=" + next, otherKey, null).status(),
                "another team's token is not a place in this team's list");
    }

    static List<String> names(JsonNode array) {
        List<String> out = new java.util.ArrayList<>();
        array.forEach(n -> out.add(n.get("name").asText()));
        return out;
    }

    @Test
    void badInputIsAClear400404Or409() throws Exception {
        create("db", VALUE);
        record Case(String method, String path, String body, int status, String says) {}
        for (Case c : List.of(
                new Case("POST", "/secrets", null, 400, "body is required"),
                new Case("POST", "/secrets", "[]", 400, "JSON object"),
                new Case("POST", "/secrets", "{\"value\":\"" + VALUE + "\" oops", 400, "not valid JSON"),
                new Case("POST", "/secrets", "{\"value\":\"x\"}", 400, "'name' is required"),
                new Case("POST", "/secrets", "{\"name\":\"a\"}", 400, "'value' is required"),
                new Case("POST", "/secrets", "{\"name\":\"a\",\"value\":\"\"}", 400, "must not be empty"),
                new Case("POST", "/secrets", "{\"name\":\"a\",\"value\":7}", 400, "must be a string"),
                new Case("POST", "/secrets", "{\"name\":\"a{b}\",\"value\":\"x\"}", 400, "Secret name"),
                new Case("POST", "/secrets", "{\"name\":\"\",\"value\":\"x\"}", 400, "Secret name"),
                new Case("POST", "/secrets", "{\"name\":\"sec_x\",\"value\":\"x\"}", 400, "reserved"),
                new Case("POST", "/secrets", "{\"name\":\"a\",\"value\":\"x\",\"metadata\":{\"k\":1}}", 400, "must be a string"),
                new Case("POST", "/secrets", "{\"name\":\"a\",\"value\":\"x\",\"metadata\":{\"k\":\"" + "m".repeat(1025)
                        + "\"}}", 400, "at most 1024"),
                new Case("POST", "/secrets", "{\"name\":\"a\",\"value\":\"" + "v".repeat(64 * 1024 + 1) + "\"}", 400,
                        "at most 65536"),
                new Case("POST", "/secrets", "{\"name\":\"DB\",\"value\":\"x\"}", 409, "already exists"),
                new Case("POST", "/secrets/db", "{}", 400, "'value' is required"),
                new Case("POST", "/secrets/nope", "{\"value\":\"x\"}", 404, "doesn't exist"),
                new Case("GET", "/secrets/sec_nope", null, 404, "doesn't exist"),
                new Case("GET", "/secrets/sec_" + "x".repeat(200), null, 404, "doesn't exist"),
                new Case("DELETE", "/secrets/nope", null, 404, "doesn't exist"),
                new Case("PUT", "/secrets/db", "{}", 405, "not allowed"))) {
            Answer a = api(c.method(), c.path(), key, c.body());
            assertEquals(c.status(), a.status(), c + " -> " + a.body());
            assertTrue(a.json().get("message").asText().contains(c.says()), c + " -> " + a.body());
            assertEquals(c.status(), a.json().get("code").asInt(), a.body());
        }
        assertEquals(401, api("GET", "/secrets", null, null).status());
        assertEquals(1, api("GET", "/secrets/db", key, null).json().get("currentVersion").asInt(),
                "refused updates left the secret alone");
    }

    @Test
    void anotherTeamCannotSeeUpdateDestroyOrUseThem() throws Exception {
        String id = create("db", VALUE).get("secretID").asText();
        assertEquals(0, api("GET", "/secrets", otherKey, null).json().size());
        assertEquals(404, api("GET", "/secrets/" + id, otherKey, null).status());
        assertEquals(404, api("GET", "/secrets/db", otherKey, null).status());
        assertEquals(404, api("POST", "/secrets/db", otherKey, "{\"value\":\"x\"}").status());
        assertEquals(404, api("DELETE", "/secrets/" + id, otherKey, null).status());
        Answer sb = api("POST", "/sandboxes", otherKey, "{\"templateID\":\"" + TEMPLATE
                + "\",\"envVars\":{\"DB\":\"${e2b.secrets.db}\"}}");
        assertEquals(404, sb.status(), sb.body());
        assertTrue(sb.json().get("message").asText().contains("envVars.DB refers to secret 'db'"), sb.body());
        assertTrue(runtime.created().isEmpty(), "nothing started");
        // the other team may have its own secret of that name, and gets its own value
        assertEquals(201, api("POST", "/secrets", otherKey, "{\"name\":\"db\",\"value\":\"theirs\"}").status());
        assertEquals(201, api("POST", "/sandboxes", otherKey, "{\"templateID\":\"" + TEMPLATE
                + "\",\"envVars\":{\"DB\":\"${e2b.secrets.db}\"}}").status());
        assertEquals("theirs", runtime.created().getLast().spec().envVars().get("DB"));
    }

    @Test
    void placeholdersInEnvVarsResolveToTheCurrentValue() throws Exception {
        create("db", VALUE);
        create("user", "alice");
        Answer sb = api("POST", "/sandboxes", key, "{\"templateID\":\"" + TEMPLATE + "\",\"envVars\":{"
                + "\"DB\":\"${e2b.secrets.db}\",\"URL\":\"pg://${e2b.secrets.USER}:${e2b.secrets.db}@h\","
                + "\"PLAIN\":\"$HOME ${other}\"}}");
        assertEquals(201, sb.status(), sb.body());
        assertEquals(VALUE, inits.getLast().envVars().get("DB"));
        assertEquals("pg://alice:" + VALUE + "@h", inits.getLast().envVars().get("URL"));
        assertEquals("$HOME ${other}", inits.getLast().envVars().get("PLAIN"));
        assertEquals(VALUE, runtime.created().getLast().spec().envVars().get("DB"));

        api("POST", "/secrets/db", key, "{\"value\":\"" + VALUE2 + "\"}");
        assertEquals(201, api("POST", "/sandboxes", key, "{\"templateID\":\"" + TEMPLATE
                + "\",\"envVars\":{\"DB\":\"${e2b.secrets.db}\"}}").status());
        assertEquals(VALUE2, inits.getLast().envVars().get("DB"), "a new create gets the new version");

        Answer missing = api("POST", "/sandboxes", key, "{\"templateID\":\"" + TEMPLATE
                + "\",\"envVars\":{\"X\":\"${e2b.secrets.missing}\"}}");
        assertEquals(404, missing.status(), missing.body());
        String sandboxId = sb.json().get("sandboxID").asText();
        assertFalse(api("GET", "/sandboxes/" + sandboxId, key, null).body().contains(VALUE));
    }

    @Test
    void valuesAreStoredSealedAndATamperedRowFailsClosed() throws Exception {
        String id = create("db", VALUE).get("secretID").asText();
        try (Connection c = store.database().connection(); Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT * FROM secrets")) {
            assertTrue(rs.next());
            for (int i = 1; i <= rs.getMetaData().getColumnCount(); i++) {
                byte[] col = rs.getBytes(i);
                if (col != null) {
                    assertFalse(new String(col, StandardCharsets.ISO_8859_1).contains(VALUE), "column " + i);
                    assertFalse(HexFormat.of().formatHex(col).contains(
                            HexFormat.of().formatHex(VALUE.getBytes(StandardCharsets.UTF_8))), "column " + i);
                }
            }
        }
        try (Connection c = store.database().connection();
             PreparedStatement st = c.prepareStatement("UPDATE secrets SET ciphertext = set_byte(ciphertext, 0, "
                     + "get_byte(ciphertext, 0) # 1) WHERE id = ?")) {
            st.setString(1, id);
            assertEquals(1, st.executeUpdate());
        }
        Answer sb = api("POST", "/sandboxes", key, "{\"templateID\":\"" + TEMPLATE
                + "\",\"envVars\":{\"DB\":\"${e2b.secrets.db}\"}}");
        assertEquals(500, sb.status(), sb.body());
        assertTrue(sb.json().get("message").asText().contains("does not open"), sb.body());
        assertTrue(runtime.created().isEmpty());
    }

    @Test
    void thePlainValueNeverAppearsInLogsOrAnyResponse() throws Exception {
        Logger root = Logger.getLogger("");
        Level was = root.getLevel();
        List<String> logged = new CopyOnWriteArrayList<>();
        Handler capture = new Handler() {
            @Override
            public void publish(LogRecord r) {
                StringBuilder b = new StringBuilder(String.valueOf(r.getMessage()));
                if (r.getParameters() != null) {
                    for (Object p : r.getParameters()) {
                        b.append(' ').append(p);
                    }
                }
                for (Throwable t = r.getThrown(); t != null; t = t.getCause()) {
                    b.append(' ').append(t);
                }
                logged.add(b.toString());
            }

            @Override
            public void flush() {
            }

            @Override
            public void close() {
            }
        };
        capture.setLevel(Level.ALL);
        root.setLevel(Level.ALL);
        root.addHandler(capture);
        PrintStream out = System.out;
        PrintStream err = System.err;
        ByteArrayOutputStream console = new ByteArrayOutputStream();
        PrintStream tee = new PrintStream(console, true, StandardCharsets.UTF_8);
        System.setOut(tee);
        System.setErr(tee);
        try {
            String id = create("db", VALUE).get("secretID").asText();
            api("POST", "/secrets", key, "{\"name\":\"db\",\"value\":\"" + VALUE + "\"}"); // 409
            api("POST", "/secrets", key, "{\"name\":\"bad{\",\"value\":\"" + VALUE + "\"}"); // 400
            api("POST", "/secrets", key, "{\"name\":\"x\",\"value\":\"" + VALUE + "\" broken"); // bad JSON
            api("POST", "/secrets/" + id, key, "{\"value\":\"" + VALUE2 + "\"}");
            api("POST", "/secrets/missing", key, "{\"value\":\"" + VALUE2 + "\"}");
            api("GET", "/secrets", key, null);
            api("GET", "/secrets/" + id, key, null);
            api("GET", "/secrets/db", key, null);
            Answer sb = api("POST", "/sandboxes", key, "{\"templateID\":\"" + TEMPLATE
                    + "\",\"envVars\":{\"DB\":\"${e2b.secrets.db}\"}}");
            assertEquals(201, sb.status(), sb.body());
            assertEquals(VALUE2, inits.getLast().envVars().get("DB"), "the sandbox did get it");
            String sandboxId = sb.json().get("sandboxID").asText();
            api("GET", "/sandboxes/" + sandboxId, key, null);
            api("GET", "/v2/sandboxes", key, null);
            api("POST", "/sandboxes", key, "{\"templateID\":\"nope\",\"envVars\":{\"DB\":\"${e2b.secrets.db}\"}}");
            api("DELETE", "/sandboxes/" + sandboxId, key, null);
            api("DELETE", "/secrets/" + id, key, null);
        } finally {
            System.setOut(out);
            System.setErr(err);
            root.removeHandler(capture);
            root.setLevel(was);
        }
        String all = seen + "\n" + String.join("\n", logged) + "\n" + console.toString(StandardCharsets.UTF_8);
        assertNotEquals(0, seen.length());
        for (String v : List.of(VALUE, VALUE2)) {
            assertFalse(all.contains(v), "the value leaked into:\n" + all);
        }
    }
}
