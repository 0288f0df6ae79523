package io.sandboxd.daemon.store;

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
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.Arrays;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The team and credential endpoints over the real store and dispatcher: what {@code e2b auth login} reads from
 * {@code GET /teams}, and {@code /api-keys} and {@code /access-tokens} as E2B's API has them, each scoped to the
 * access token's team.
 */
class TeamApiTest extends FreshStoreTest {
    ApiServer server;
    HttpClient client;
    Team team;
    String token;
    String otherTeamToken;

    @BeforeEach
    void start() throws Exception {
        byte[] secret = new byte[SandboxTokens.MIN_SECRET_BYTES];
        Arrays.fill(secret, (byte) 7);
        StoreApiKeyStore keyStore = new StoreApiKeyStore(store.keys());
        server = ApiServer.start(new InetSocketAddress("127.0.0.1", 0), ApiServices.of(null, keyStore)
                .withTeamKeys(new StoreTeamKeys(store.keys(), keyStore, new SandboxTokens(secret))), 1);
        client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        team = store.teams().ensureDefault();
        token = store.keys().create(KeyHash.ACCESS_TOKEN, team, "cli").plaintext();
        Team other = store.teams().ensure("other");
        otherTeamToken = store.keys().create(KeyHash.ACCESS_TOKEN, other, "cli").plaintext();
    }

    @AfterEach
    void stop() {
        client.close();
        server.close();
    }

    record Reply(int status, String body) {
        JsonNode json() {
            return Json.parse(body.getBytes(StandardCharsets.UTF_8));
        }
    }

    Reply bearer(String method, String path, String body, String credential) throws Exception {
        return send(method, path, body, "Authorization", "Bearer " + credential);
    }

    Reply send(String method, String path, String body, String header, String value) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + path))
                .timeout(Duration.ofSeconds(10))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofString(body))
                .header("Content-Type", "application/json");
        if (header != null) {
            b.header(header, value);
        }
        HttpResponse<String> r = client.send(b.build(), HttpResponse.BodyHandlers.ofString());
        return new Reply(r.statusCode(), r.body());
    }

    static void assertError(Reply r, int status, String fragment) {
        assertEquals(status, r.status(), r.body());
        assertEquals(status, r.json().get("code").asInt(), r.body());
        assertTrue(r.json().get("message").asText().contains(fragment), r.body());
    }

    @Test
    void teamsHandsTheSignedInCliOneWorkingKeyPerToken() throws Exception {
        Reply first = bearer("GET", "/teams", null, token);
        assertEquals(200, first.status(), first.body());
        JsonNode t = first.json().get(0);
        assertEquals(1, first.json().size());
        assertEquals(team.id(), t.get("teamID").asText());
        assertEquals(team.name(), t.get("name").asText());
        assertTrue(t.get("isDefault").asBoolean());
        String apiKey = t.get("apiKey").asText();
        assertTrue(KeyHash.API_KEY.matches(apiKey), apiKey);

        assertEquals(apiKey, bearer("GET", "/teams", null, token).json().get(0).get("apiKey").asText(),
                "the same token gets the same key");
        String otherKey = bearer("GET", "/teams", null, otherTeamToken).json().get(0).get("apiKey").asText();
        assertNotEquals(apiKey, otherKey);
        assertEquals(team, store.keys().authenticate(KeyHash.API_KEY, apiKey).orElseThrow(),
                "the key works as the team's API key");
        assertEquals(1, bearer("GET", "/api-keys", null, token).json().size(), "stored once: " + apiKey);
        assertStoredOnlyHashed(apiKey);

        String id = bearer("GET", "/api-keys", null, token).json().get(0).get("id").asText();
        assertEquals(204, bearer("DELETE", "/api-keys/" + id, null, token).status());
        assertError(bearer("GET", "/teams", null, token), 409, "was revoked");
    }

    @Test
    void apiKeysAreCreatedListedRenamedAndRevokedWithinTheTeam() throws Exception {
        Reply created = bearer("POST", "/api-keys", "{\"name\":\"ci\"}", token);
        assertEquals(201, created.status(), created.body());
        JsonNode k = created.json();
        String key = k.get("key").asText();
        assertTrue(KeyHash.API_KEY.matches(key), key);
        assertEquals("ci", k.get("name").asText());
        assertEquals("e2b_", k.get("mask").get("prefix").asText());
        assertEquals(40, k.get("mask").get("valueLength").asInt());
        assertEquals(key.substring(4, 8), k.get("mask").get("maskedValuePrefix").asText());
        assertEquals(key.substring(key.length() - 4), k.get("mask").get("maskedValueSuffix").asText());
        assertTrue(k.get("lastUsed").isNull());
        String id = k.get("id").asText();

        JsonNode listed = bearer("GET", "/api-keys", null, token).json();
        assertEquals(1, listed.size());
        assertFalse(listed.get(0).has("key"), "a listing never shows the key");
        assertEquals(0, bearer("GET", "/api-keys", null, otherTeamToken).json().size(), "another team sees none");

        Reply renamed = bearer("PATCH", "/api-keys/" + id, "{\"name\":\"ci-2\"}", token);
        assertEquals(200, renamed.status(), renamed.body());
        assertEquals("ci-2", bearer("GET", "/api-keys", null, token).json().get(0).get("name").asText());

        assertError(bearer("DELETE", "/api-keys/" + id, null, otherTeamToken), 404, "doesn't exist");
        assertEquals(team, store.keys().authenticate(KeyHash.API_KEY, key).orElseThrow(), "still live");
        assertEquals(204, send("DELETE", "/api-keys/" + id, null, "Authorization", "Bearer " + token).status());
        assertError(send("GET", "/sandboxes", null, "X-API-KEY", key), 401, "Invalid API key");
        assertError(bearer("DELETE", "/api-keys/" + id, null, token), 404, "doesn't exist");
    }

    @Test
    void accessTokensAreMintedAndRevokedAndStopWorkingAtOnce() throws Exception {
        Reply created = bearer("POST", "/access-tokens", "{\"name\":\"laptop\"}", token);
        assertEquals(201, created.status(), created.body());
        String minted = created.json().get("token").asText();
        assertTrue(KeyHash.ACCESS_TOKEN.matches(minted), minted);
        assertEquals("sk_e2b_", created.json().get("mask").get("prefix").asText());
        assertEquals(200, bearer("GET", "/api-keys", null, minted).status(), "the new token works");

        String id = created.json().get("id").asText();
        assertEquals(204, bearer("DELETE", "/access-tokens/" + id, null, token).status());
        assertError(bearer("GET", "/api-keys", null, minted), 401, "Invalid access token");
        assertError(bearer("DELETE", "/access-tokens/" + id, null, token), 404, "doesn't exist");
    }

    @Test
    void badInputGetsClearErrors() throws Exception {
        String apiKey = store.keys().create(KeyHash.API_KEY, team, "sdk").plaintext();
        assertError(send("GET", "/api-keys", null, "X-API-KEY", apiKey), 401, "takes an access token");
        assertError(send("POST", "/access-tokens", "{\"name\":\"x\"}", "X-API-KEY", apiKey), 401,
                "cannot manage credentials");
        assertError(send("GET", "/teams", null, null, null), 401, "takes an access token");
        assertError(bearer("GET", "/teams", null, "sk_e2b_XYZ"), 401, "format");
        assertError(bearer("GET", "/teams", null, KeyHash.ACCESS_TOKEN.generate()), 401, "Invalid access token");
        assertError(bearer("POST", "/api-keys", "{}", token), 400, "'name' is required");
        assertError(bearer("POST", "/api-keys", "{\"name\":\"  \"}", token), 400, "'name' is required");
        assertError(bearer("POST", "/api-keys", "{\"name\":7}", token), 400, "name");
        assertError(bearer("POST", "/api-keys", "{\"name\":\"" + "n".repeat(201) + "\"}", token), 400, "at most");
        assertError(bearer("POST", "/api-keys", "{\"name\":\"a\\u0000b\"}", token), 400, "control");
        assertError(bearer("POST", "/api-keys", "{nope", token), 400, "JSON");
        assertError(bearer("PATCH", "/api-keys/not-a-uuid", "{\"name\":\"x\"}", token), 404, "doesn't exist");
        assertError(bearer("DELETE", "/access-tokens/" + java.util.UUID.randomUUID(), null, token), 404,
                "doesn't exist");
        assertError(bearer("GET", "/teams/" + team.id() + "/metrics", null, token), 501, "not implemented");
        JsonNode left = bearer("GET", "/api-keys", null, token).json();
        assertEquals(1, left.size(), "nothing was made by bad input: " + left);
        assertEquals("sdk", left.get(0).get("name").asText());
    }

    void assertStoredOnlyHashed(String apiKey) throws Exception {
        try (Connection c = store.database().connection(); Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT key_hash, mask, name FROM api_keys")) {
            while (rs.next()) {
                for (int i = 1; i <= 3; i++) {
                    assertFalse(rs.getString(i).contains(apiKey.substring(8, 36)), "no plaintext stored");
                }
            }
        }
    }
}
