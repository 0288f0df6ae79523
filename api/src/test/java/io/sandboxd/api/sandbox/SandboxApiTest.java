package io.sandboxd.api.sandbox;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.sandboxd.api.ApiServer;
import io.sandboxd.api.auth.ApiKeyStore;
import io.sandboxd.api.auth.Team;
import io.sandboxd.api.http.Json;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Drives every sandbox endpoint of spec 1.4 over real HTTP against an in-memory service. */
class SandboxApiTest {
    static final String KEY_A = "e2b_" + "ab".repeat(20);
    static final String KEY_B = "e2b_" + "cd".repeat(20);
    static final String TOKEN_A = "sk_e2b_" + "ef".repeat(20);
    static final Team TEAM_A = new Team("team-a", "a");
    static final Team TEAM_B = new Team("team-b", "b");

    final FakeSandboxService service = new FakeSandboxService();
    final ApiKeyStore keys = new ApiKeyStore() {
        @Override
        public Optional<Team> authenticateApiKey(String apiKey) {
            return Optional.ofNullable(Map.of(KEY_A, TEAM_A, KEY_B, TEAM_B).get(apiKey));
        }

        @Override
        public Optional<Team> authenticateAccessToken(String token) {
            return token.equals(TOKEN_A) ? Optional.of(TEAM_A) : Optional.empty();
        }
    };
    ApiServer server;
    HttpClient client;

    @BeforeEach
    void start() throws Exception {
        server = ApiServer.start(new InetSocketAddress("127.0.0.1", 0), service, keys, 1);
        client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    }

    @AfterEach
    void stop() {
        client.close();
        server.close();
    }

    record Reply(int status, String body, java.net.http.HttpHeaders headers) {
        JsonNode json() {
            return Json.parse(body.getBytes(StandardCharsets.UTF_8));
        }
    }

    Reply call(String method, String path, String body) throws Exception {
        return call(method, path, body, KEY_A);
    }

    Reply call(String method, String path, String body, String key) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + path))
                .timeout(Duration.ofSeconds(10))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofString(body))
                .header("Content-Type", "application/json")
                .header("lang_version", "v22") // underscores in header names, as the JS SDK sends
                .header("sdk_runtime", "node");
        if (key != null) {
            b.header("X-API-KEY", key);
        }
        HttpResponse<String> r = client.send(b.build(), HttpResponse.BodyHandlers.ofString());
        return new Reply(r.statusCode(), r.body(), r.headers());
    }

    static void assertError(Reply r, int status) {
        assertEquals(status, r.status(), r.body());
        JsonNode body = r.json();
        assertEquals(status, body.get("code").asInt(), r.body());
        assertTrue(body.get("message").isTextual() && !body.get("message").asText().isEmpty(), r.body());
        assertEquals("application/json", r.headers().firstValue("content-type").orElse(""));
    }

    String create(String body) throws Exception {
        Reply r = call("POST", "/sandboxes", body);
        assertEquals(201, r.status(), r.body());
        return r.json().get("sandboxID").asText();
    }

    @Test
    void createV1AnswersTheSandboxShape() throws Exception {
        Reply r = call("POST", "/sandboxes", """
                {"templateID":"base","timeout":60,"metadata":{"k":"v"},"envVars":{"A":"1"},"secure":true,
                 "allow_internet_access":false,"unknownField":{"x":1}}""");
        assertEquals(201, r.status(), r.body());
        JsonNode s = r.json();
        for (String f : List.of("templateID", "sandboxID", "clientID", "envdVersion", "envdAccessToken", "domain")) {
            assertTrue(s.hasNonNull(f), f + " in " + r.body());
        }
        assertEquals("base", s.get("templateID").asText());
        assertEquals(FakeSandboxService.DOMAIN, s.get("domain").asText());
        FakeSandboxService.Stored stored = service.sandboxes.get(s.get("sandboxID").asText());
        assertEquals(Duration.ofSeconds(60), stored.request.timeout());
        assertEquals(Map.of("A", "1"), stored.request.envVars());
        assertFalse(stored.request.allowInternetAccess());
    }

    @Test
    void createV1DefaultsAndInsecure() throws Exception {
        Reply r = call("POST", "/sandboxes", "{\"secure\":false,\"metadata\":{},\"envVars\":{}}");
        assertEquals(201, r.status(), r.body());
        assertFalse(r.json().has("envdAccessToken"), r.body());
        CreateSandbox req = service.sandboxes.get(r.json().get("sandboxID").asText()).request;
        assertEquals("base", req.templateId());
        assertEquals(OnTimeout.KILL, req.onTimeout());
    }

    @Test
    void createV2DefaultsTimeoutTo300AndAlwaysIssuesAToken() throws Exception {
        Reply r = call("POST", "/v2/sandboxes", """
                {"templateID":"py","secure":false,"autoPause":true,"autoResume":{"enabled":true},
                 "network":{"allowPublicTraffic":false,"denyOut":["0.0.0.0/0"],"allowOut":["example.com"]}}""");
        assertEquals(201, r.status(), r.body());
        JsonNode s = r.json();
        assertTrue(s.hasNonNull("envdAccessToken"));
        assertTrue(s.hasNonNull("trafficAccessToken"));
        CreateSandbox req = service.sandboxes.get(s.get("sandboxID").asText()).request;
        assertEquals(Duration.ofSeconds(300), req.timeout());
        assertEquals(OnTimeout.PAUSE, req.onTimeout());
        assertTrue(req.autoResume());
        assertEquals(List.of("example.com"), req.network().allowOut());
    }

    @Test
    void createAcceptsAChunkedBody() throws Exception {
        byte[] body = "{\"templateID\":\"base\",\"timeout\":30}".getBytes(StandardCharsets.UTF_8);
        HttpRequest req = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/sandboxes"))
                .header("X-API-KEY", KEY_A)
                // An InputStream of unknown length makes the client send Transfer-Encoding: chunked, like Node.
                .POST(HttpRequest.BodyPublishers.ofInputStream(() -> new ByteArrayInputStream(body)))
                .build();
        HttpResponse<String> r = client.send(req, HttpResponse.BodyHandlers.ofString());
        assertEquals(201, r.statusCode(), r.body());
    }

    @Test
    void createAcceptsChunksSplitAcrossWrites() throws Exception {
        try (Socket s = new Socket("127.0.0.1", server.port())) {
            s.setSoTimeout(10_000);
            OutputStream out = s.getOutputStream();
            String head = "POST /v2/sandboxes HTTP/1.1\r\nHost: x\r\nX-API-KEY: " + KEY_A
                    + "\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n";
            String[] parts = {"{\"templ", "ateID\":\"base\",", "\"timeout\":10}"};
            out.write(head.getBytes(StandardCharsets.US_ASCII));
            out.flush();
            for (String p : parts) {
                out.write((Integer.toHexString(p.length()) + "\r\n" + p + "\r\n").getBytes(StandardCharsets.UTF_8));
                out.flush();
                Thread.sleep(20);
            }
            out.write("0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            out.flush();
            String status = readLine(s.getInputStream());
            assertEquals("HTTP/1.1 201 Created", status);
        }
    }

    private static String readLine(InputStream in) throws IOException {
        StringBuilder sb = new StringBuilder();
        int c;
        while ((c = in.read()) >= 0 && c != '\n') {
            if (c != '\r') {
                sb.append((char) c);
            }
        }
        return sb.toString();
    }

    @Test
    void badTimeoutsAre400() throws Exception {
        for (String body : List.of("{\"timeout\":0}", "{\"timeout\":-1}", "{\"timeout\":1.5}", "{\"timeout\":\"x\"}",
                "{\"timeout\":86401}")) {
            assertError(call("POST", "/sandboxes", body), 400);
            assertError(call("POST", "/v2/sandboxes", body), 400);
        }
        String id = create("{\"timeout\":10}");
        assertError(call("POST", "/sandboxes/" + id + "/timeout", "{\"timeout\":-5}"), 400);
        assertError(call("POST", "/sandboxes/" + id + "/timeout", "{}"), 400);
        assertError(call("POST", "/sandboxes/" + id + "/connect", "{\"timeout\":-5}"), 400);
        assertError(call("POST", "/sandboxes/" + id + "/refreshes", "{\"duration\":3601}"), 400);
        assertEquals(List.of("create"), service.calls, "invalid requests never reach the service");
    }

    @Test
    void badBodiesAre400() throws Exception {
        assertError(call("POST", "/sandboxes", "{not json"), 400);
        assertError(call("POST", "/sandboxes", "[1,2]"), 400);
        assertError(call("POST", "/sandboxes", "{} trailing"), 400);
        assertError(call("POST", "/sandboxes", ""), 400);
        assertError(call("POST", "/sandboxes", "{\"metadata\":{\"a\":1}}"), 400);
        assertError(call("POST", "/sandboxes", "{\"envVars\":[]}"), 400);
        assertError(call("POST", "/sandboxes", "{\"secure\":\"yes\"}"), 400);
        assertError(call("POST", "/sandboxes", "{\"lifecycle\":{\"onTimeout\":\"explode\"}}"), 400);
        assertTrue(service.calls.isEmpty());
    }

    @Test
    void unsupportedCreateOptionsAreRefusedNotIgnored() throws Exception {
        assertError(call("POST", "/sandboxes", "{\"mcp\":{\"x\":{}}}"), 501);
        Reply proxy = call("POST", "/sandboxes", "{\"network\":{\"egressProxy\":{\"address\":\"a:1080\"}}}");
        assertError(proxy, 400);
        assertTrue(proxy.json().get("message").asText().startsWith("'network.egressProxy' is not supported by sandboxd"), proxy.body());
        Reply rules = call("POST", "/v2/sandboxes",
                "{\"network\":{\"rules\":{\"api.test\":[{\"transform\":{\"headers\":{\"A\":\"b\"}}}]}}}");
        assertError(rules, 400);
        assertTrue(rules.json().get("message").asText().startsWith("'network.rules' is not supported"), rules.body());
        assertError(call("POST", "/v2/sandboxes", "{\"network\":{\"httpsPorts\":[3000]}}"), 400);
        assertError(call("POST", "/v2/sandboxes", "{\"network\":{\"rules\":[1]}}"), 400);
        assertTrue(service.calls.isEmpty(), "nothing was created");
        // empty ones say nothing and are accepted, as the SDK may send them
        assertEquals(201, call("POST", "/v2/sandboxes", "{\"network\":{\"rules\":{},\"httpsPorts\":[]}}").status());
    }

    @Test
    void putNetworkReplacesTheWholeEgressConfiguration() throws Exception {
        String id = create("{}");
        Reply r = call("PUT", "/sandboxes/" + id + "/network", """
                {"allowOut":["1.1.1.1","example.com"],"denyOut":["0.0.0.0/0"]}""");
        assertEquals(204, r.status());
        assertEquals("", r.body());
        assertEquals(new NetworkUpdate(true, List.of("1.1.1.1", "example.com"), List.of("0.0.0.0/0")),
                service.sandboxes.get(id).network);
        assertEquals(204, call("PUT", "/sandboxes/" + id + "/network", "{\"allow_internet_access\":false}").status());
        assertEquals(new NetworkUpdate(false, List.of(), List.of()), service.sandboxes.get(id).network, "omitted fields are cleared");

        assertError(call("PUT", "/sandboxes/" + id + "/network", "{\"allowOut\":\"1.1.1.1\"}"), 400);
        assertError(call("PUT", "/sandboxes/" + id + "/network", "{\"denyOut\":[1]}"), 400);
        assertError(call("PUT", "/sandboxes/" + id + "/network", "{\"allow_internet_access\":\"no\"}"), 400);
        assertError(call("PUT", "/sandboxes/" + id + "/network", "{\"egressProxy\":{\"address\":\"p:1\"}}"), 400);
        assertError(call("PUT", "/sandboxes/" + id + "/network", "[]"), 400);
        assertEquals(new NetworkUpdate(false, List.of(), List.of()), service.sandboxes.get(id).network, "a refused update changes nothing");
        assertError(call("PUT", "/sandboxes/nosuchsandbox/network", "{}"), 404);
        assertError(call("PUT", "/sandboxes/" + id + "/network", "{}", null), 401);
    }

    @Test
    void credentialsAreChecked() throws Exception {
        assertError(call("GET", "/v2/sandboxes", null, null), 401);
        assertError(call("GET", "/v2/sandboxes", null, "e2b_nothex"), 401);
        assertError(call("GET", "/v2/sandboxes", null, "e2b_" + "00".repeat(20)), 401);
        assertError(call("POST", "/sandboxes", "{}", "sk_e2b_" + "ef".repeat(20)), 401);
        HttpRequest bearer = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/v2/sandboxes"))
                .header("Authorization", "Bearer " + TOKEN_A).build();
        assertEquals(200, client.send(bearer, HttpResponse.BodyHandlers.ofString()).statusCode());
        assertTrue(service.calls.stream().noneMatch("create"::equals));
        assertEquals(204, call("GET", "/health", null, null).status());
    }

    @Test
    void getShowsTheDetailShapeAndUnknownIs404() throws Exception {
        String id = create("{\"timeout\":60,\"metadata\":{\"user\":\"u1\"}}");
        Reply r = call("GET", "/sandboxes/" + id, null);
        assertEquals(200, r.status(), r.body());
        JsonNode d = r.json();
        for (String f : List.of("templateID", "sandboxID", "clientID", "startedAt", "endAt", "envdVersion",
                "cpuCount", "memoryMB", "diskSizeMB", "state", "envdAccessToken", "metadata", "lifecycle")) {
            assertTrue(d.has(f), f + " in " + r.body());
        }
        assertEquals("running", d.get("state").asText());
        assertEquals("u1", d.get("metadata").get("user").asText());
        assertTrue(d.get("startedAt").asText().endsWith("Z"));
        assertEquals("kill", d.get("lifecycle").get("onTimeout").asText());

        assertError(call("GET", "/sandboxes/nosuchsandbox", null), 404);
        assertError(call("GET", "/sandboxes/" + id, null, KEY_B), 404);
        assertEquals(204, call("POST", "/sandboxes/" + id + "/pause", null).status());
        assertEquals("paused", call("GET", "/sandboxes/" + id, null).json().get("state").asText());
    }

    @Test
    void legacyClientIdSuffixIsDropped() throws Exception {
        String id = create("{}");
        assertEquals(200, call("GET", "/sandboxes/" + id + "-" + "6532622b", null).status());
    }

    @Test
    void percentEncodedSlashStaysInsideOneSegment() throws Exception {
        Reply r = call("GET", "/sandboxes/abc%2Fdef", null);
        assertError(r, 404);
        assertTrue(r.json().get("message").asText().contains("abc/def"), "routed as one sandbox ID: " + r.body());
        Reply noRoute = call("GET", "/sandboxes/abc/def", null);
        assertError(noRoute, 404);
        assertTrue(noRoute.json().get("message").asText().startsWith("No API route"), noRoute.body());
        // java.net.URI refuses to send a malformed escape, so this one goes over a raw socket.
        try (Socket sock = new Socket("127.0.0.1", server.port())) {
            sock.setSoTimeout(10_000);
            sock.getOutputStream().write(("GET /sandboxes/abc%zz HTTP/1.1\r\nHost: x\r\nX-API-KEY: " + KEY_A
                    + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            assertEquals("HTTP/1.1 400 Bad Request", readLine(sock.getInputStream()));
        }
    }

    @Test
    void killIs204ThenNotFound() throws Exception {
        String id = create("{}");
        Reply r = call("DELETE", "/sandboxes/" + id, null);
        assertEquals(204, r.status());
        assertEquals("", r.body());
        assertError(call("DELETE", "/sandboxes/" + id, null), 404);
    }

    @Test
    void timeoutAndRefreshes() throws Exception {
        String id = create("{\"timeout\":600}");
        assertEquals(204, call("POST", "/sandboxes/" + id + "/timeout", "{\"timeout\":30}").status());
        assertEquals(service.now.plusSeconds(30), service.sandboxes.get(id).endAt, "timeout may shorten the TTL");
        assertEquals(204, call("POST", "/sandboxes/" + id + "/refreshes", "{\"duration\":10}").status());
        assertEquals(service.now.plusSeconds(40), service.sandboxes.get(id).endAt);
        assertEquals(204, call("POST", "/sandboxes/" + id + "/refreshes", null).status());
        assertEquals(204, call("POST", "/sandboxes/" + id + "/pause", "{}").status());
        assertError(call("POST", "/sandboxes/" + id + "/timeout", "{\"timeout\":30}"), 404);
        assertError(call("POST", "/sandboxes/nosuch/timeout", "{\"timeout\":30}"), 404);
    }

    @Test
    void connectIs200WhenRunningAnd201WhenResumed() throws Exception {
        String id = create("{\"timeout\":600}");
        Reply running = call("POST", "/sandboxes/" + id + "/connect", "{\"timeout\":30}");
        assertEquals(200, running.status(), running.body());
        assertEquals(id, running.json().get("sandboxID").asText());
        assertEquals(service.sandboxes.get(id).startedAt.plusSeconds(600), service.sandboxes.get(id).endAt,
                "connect on a running sandbox only extends");
        assertEquals(200, call("POST", "/v2/sandboxes/" + id + "/connect", null).status(), "v2 body is optional");
        assertEquals(204, call("POST", "/sandboxes/" + id + "/pause", null).status());
        Reply resumed = call("POST", "/v2/sandboxes/" + id + "/connect", "{\"timeout\":30,\"memory\":false}");
        assertEquals(201, resumed.status(), resumed.body());
        assertTrue(resumed.json().hasNonNull("envdAccessToken"));
        assertError(call("POST", "/sandboxes/" + id + "/connect", "{}"), 400);
        assertError(call("POST", "/sandboxes/nosuch/connect", "{\"timeout\":30}"), 404);
    }

    @Test
    void pauseAndDeprecatedResume() throws Exception {
        String id = create("{}");
        assertError(call("POST", "/sandboxes/" + id + "/resume", "{\"timeout\":30}"), 409);
        assertEquals(204, call("POST", "/sandboxes/" + id + "/pause", "{\"memory\":true}").status());
        assertError(call("POST", "/sandboxes/" + id + "/pause", "{}"), 409);
        Reply r = call("POST", "/sandboxes/" + id + "/resume", "{\"timeout\":30,\"autoPause\":false}");
        assertEquals(201, r.status(), r.body());
        assertEquals(id, r.json().get("sandboxID").asText());
        assertError(call("POST", "/sandboxes/nosuch/pause", "{}"), 404);
    }

    @Test
    void listV1IsRunningOnlyWithTheTripleEncodedMetadataFilter() throws Exception {
        String a = create("{\"metadata\":{\"user id\":\"a&b\",\"x\":\"1\"}}");
        String b = create("{\"metadata\":{\"user id\":\"other\"}}");
        String c = create("{\"metadata\":{\"user id\":\"a&b\"}}");
        call("POST", "/sandboxes/" + c + "/pause", null);
        Reply all = call("GET", "/sandboxes", null);
        assertEquals(200, all.status());
        assertEquals(List.of(a, b).stream().sorted().toList(), ids(all).stream().sorted().toList());
        Reply filtered = call("GET", "/sandboxes?metadata=" + metadataFilter(Map.of("user id", "a&b")), null);
        assertEquals(List.of(a), ids(filtered));
        JsonNode listed = filtered.json().get(0);
        for (String f : List.of("templateID", "sandboxID", "clientID", "startedAt", "endAt", "envdVersion",
                "cpuCount", "memoryMB", "diskSizeMB", "state", "metadata")) {
            assertTrue(listed.has(f), f);
        }
        assertFalse(listed.has("envdAccessToken"), "the list never shows tokens");
    }

    /** What the SDKs send: each part encoded, joined, and the whole encoded again (plus the query's own layer). */
    static String metadataFilter(Map<String, String> m) {
        String joined = m.entrySet().stream().map(e -> enc(e.getKey()) + "=" + enc(e.getValue()))
                .collect(Collectors.joining("&"));
        return enc(enc(joined));
    }

    static String enc(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8).replace("+", "%20");
    }

    static List<String> ids(Reply r) {
        List<String> ids = new ArrayList<>();
        r.json().forEach(n -> ids.add(n.get("sandboxID").asText()));
        return ids;
    }

    @Test
    void metadataFilterOnTheWireMatchesTheSpecExample() throws Exception {
        create("{\"metadata\":{\"user id\":\"a&b\"}}");
        Reply r = call("GET", "/v2/sandboxes?metadata=user%252520id%3Da%252526b", null);
        assertEquals(1, r.json().size(), r.body());
        assertError(call("GET", "/v2/sandboxes?metadata=" + enc(enc("novalue")), null), 400);
        assertError(call("GET", "/sandboxes?metadata=" + enc("a%zz=b"), null), 400);
    }

    @Test
    void listV2PagesWithXNextToken() throws Exception {
        List<String> created = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            created.add(create("{\"templateID\":\"" + (i % 2 == 0 ? "base" : "py") + "\"}"));
        }
        call("POST", "/sandboxes/" + created.get(4) + "/pause", null);
        List<String> seen = new ArrayList<>();
        String token = null;
        int pages = 0;
        do {
            Reply r = call("GET", "/v2/sandboxes?limit=2" + (token == null ? "" : "&nextToken=" + enc(token)), null);
            assertEquals(200, r.status(), r.body());
            seen.addAll(ids(r));
            token = r.headers().firstValue("X-Next-Token").orElse(null);
            pages++;
        } while (token != null);
        assertEquals(3, pages);
        assertEquals(created.reversed(), seen, "newest first by default, every sandbox once");

        assertEquals(List.of(created.get(4)), ids(call("GET", "/v2/sandboxes?state=paused", null)));
        assertEquals(5, ids(call("GET", "/v2/sandboxes?state=running,paused", null)).size());
        assertEquals(created, ids(call("GET", "/v2/sandboxes?order=asc", null)));
        assertEquals(List.of(created.get(3), created.get(1)), ids(call("GET", "/v2/sandboxes?template=py", null)));
        String third = call("GET", "/sandboxes/" + created.get(2), null).json().get("startedAt").asText();
        assertEquals(List.of(created.get(4), created.get(3)),
                ids(call("GET", "/v2/sandboxes?startedAfter=" + enc(third), null)));
        String offset = third.replace("Z", "+02:00");
        assertEquals(5, ids(call("GET", "/v2/sandboxes?startedAfter=" + enc(offset), null)).size());
        Reply last = call("GET", "/v2/sandboxes?limit=100", null);
        assertTrue(last.headers().firstValue("X-Next-Token").isEmpty(), "no token on the last page");
        assertEquals(List.of(), ids(call("GET", "/v2/sandboxes", null, KEY_B)));

        assertError(call("GET", "/v2/sandboxes?state=sleeping", null), 400);
        assertError(call("GET", "/v2/sandboxes?limit=0", null), 400);
        assertError(call("GET", "/v2/sandboxes?limit=101", null), 400);
        assertError(call("GET", "/v2/sandboxes?limit=x", null), 400);
        assertError(call("GET", "/v2/sandboxes?startedAfter=yesterday", null), 400);
        assertError(call("GET", "/v2/sandboxes?nextToken=garbage", null), 400);
        assertError(call("GET", "/v2/sandboxes?order=up", null), 400);
    }

    @Test
    void metricsHaveAllNineFields() throws Exception {
        String id = create("{}");
        Reply r = call("GET", "/sandboxes/" + id + "/metrics", null);
        assertEquals(200, r.status(), r.body());
        assertEquals(3, r.json().size());
        JsonNode m = r.json().get(1);
        for (String f : List.of("timestamp", "timestampUnix", "cpuCount", "cpuUsedPct", "memUsed", "memTotal",
                "memCache", "diskUsed", "diskTotal")) {
            assertTrue(m.has(f), f);
        }
        long start = m.get("timestampUnix").asLong();
        assertEquals(2, call("GET", "/sandboxes/" + id + "/metrics?start=" + start, null).json().size());
        assertEquals(1, call("GET", "/sandboxes/" + id + "/metrics?start=" + start + "&end=" + start, null)
                .json().size());
        assertError(call("GET", "/sandboxes/" + id + "/metrics?start=-1", null), 400);
        assertError(call("GET", "/sandboxes/" + id + "/metrics?start=10&end=5", null), 400);
        assertError(call("GET", "/sandboxes/nosuch/metrics", null), 404);

        Reply bulk = call("GET", "/sandboxes/metrics?sandbox_ids=" + id + ",gone1", null);
        assertEquals(200, bulk.status(), bulk.body());
        assertEquals(1, bulk.json().get("sandboxes").size());
        assertTrue(bulk.json().get("sandboxes").get(id).has("memTotal"));
        assertError(call("GET", "/sandboxes/metrics", null), 400);
    }

    @Test
    void logsV1AndV2() throws Exception {
        String id = create("{}");
        Reply v1 = call("GET", "/sandboxes/" + id + "/logs", null);
        assertEquals(200, v1.status(), v1.body());
        assertEquals(3, v1.json().get("logs").size());
        assertEquals("booting", v1.json().get("logs").get(0).get("line").asText());
        assertEquals("info", v1.json().get("logEntries").get(1).get("level").asText());
        assertEquals("49983", v1.json().get("logEntries").get(1).get("fields").get("port").asText());
        assertEquals(1, call("GET", "/sandboxes/" + id + "/logs?limit=1", null).json().get("logs").size());

        Reply v2 = call("GET", "/v2/sandboxes/" + id + "/logs?level=info&direction=backward", null);
        assertEquals(200, v2.status(), v2.body());
        JsonNode logs = v2.json().get("logs");
        assertEquals(2, logs.size());
        assertEquals("disk almost full", logs.get(0).get("message").asText());
        assertEquals(1, call("GET", "/v2/sandboxes/" + id + "/logs?search=envd", null).json().get("logs").size());
        assertError(call("GET", "/v2/sandboxes/" + id + "/logs?level=loud", null), 400);
        assertError(call("GET", "/v2/sandboxes/" + id + "/logs?direction=sideways", null), 400);
        assertError(call("GET", "/v2/sandboxes/nosuch/logs", null), 404);
    }

    @Test
    void otherApiAreasAnswer501AfterAuthentication() throws Exception {
        for (String[] req : List.of(new String[] {"GET", "/templates"}, new String[] {"POST", "/v3/templates"},
                new String[] {"GET", "/templates/aliases/base"}, new String[] {"POST", "/volumes"},
                new String[] {"GET", "/secrets"}, new String[] {"GET", "/snapshots"}, new String[] {"GET", "/teams"},
                new String[] {"POST", "/sandboxes/abc/fork"},
                new String[] {"POST", "/sandboxes/abc/snapshots"})) {
            Reply r = call(req[0], req[1], req[0].equals("GET") ? null : "{}");
            assertError(r, 501);
            assertTrue(r.json().get("message").asText().contains("not implemented in sandboxd yet"), r.body());
            assertError(call(req[0], req[1], null, null), 401);
        }
        assertError(call("GET", "/nothing/here", null), 404);
        Reply wrongMethod = call("PATCH", "/sandboxes", "{}");
        assertError(wrongMethod, 405);
        assertTrue(wrongMethod.headers().firstValue("Allow").orElse("").contains("POST"));
    }

    @Test
    void serviceRefusalsMapToTheirStatus() throws Exception {
        assertError(call("POST", "/sandboxes", "{\"templateID\":\"missing\"}"), 404);
        service.onCreate = r -> {
            throw new IllegalStateException("disk on fire");
        };
        Reply r = call("POST", "/sandboxes", "{}");
        assertError(r, 500);
        assertTrue(r.json().get("message").asText().contains("disk on fire"));
        assertEquals(204, call("GET", "/health", null, null).status(), "the server survives");
    }

    @Test
    void aBlockedServiceCallDoesNotBlockTheEventLoop() throws Exception {
        CountDownLatch entered = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        service.onCreate = r -> {
            entered.countDown();
            try {
                release.await(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        };
        CompletableFuture<Reply> slow = CompletableFuture.supplyAsync(() -> {
            try {
                return call("POST", "/sandboxes", "{}");
            } catch (Exception e) {
                throw new RuntimeException(e);
            }
        });
        assertTrue(entered.await(10, TimeUnit.SECONDS));
        // The server has a single event loop: this only answers if the blocked create is not running on it.
        try (HttpClient other = HttpClient.newHttpClient()) {
            HttpRequest health = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/health"))
                    .timeout(Duration.ofSeconds(5)).build();
            assertEquals(204, other.send(health, HttpResponse.BodyHandlers.ofString()).statusCode());
        }
        release.countDown();
        assertEquals(201, slow.get(10, TimeUnit.SECONDS).status());
    }

    @Test
    void emptySuccessBodiesAre204WithoutBody() throws Exception {
        String id = create("{}");
        Reply r = call("POST", "/sandboxes/" + id + "/pause", null);
        assertEquals(204, r.status());
        assertEquals("", r.body());
        assertTrue(r.headers().firstValue("transfer-encoding").isEmpty());
        assertNull(r.headers().firstValue("content-type").orElse(null));
    }

    @Test
    void idleKeepAliveConnectionsAreClosedButBusyOnesAreNot() throws Exception {
        var dispatcher = new io.sandboxd.api.http.RestDispatcher(ApiServer.routes(service), keys);
        CountDownLatch release = new CountDownLatch(1);
        service.onCreate = r -> {
            try {
                release.await(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        };
        try (var workers = java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor();
             var idle = io.sandboxd.api.NettyServer.start("test", new InetSocketAddress("127.0.0.1", 0), 1,
                     new io.sandboxd.api.http.ApiChannelInitializer(dispatcher, workers, Duration.ofMillis(300)));
             Socket quiet = new Socket("127.0.0.1", idle.port())) {
            quiet.setSoTimeout(5_000);
            assertEquals(-1, quiet.getInputStream().read(), "closed after the idle timeout");
            Socket busy = new Socket("127.0.0.1", idle.port());
            busy.setSoTimeout(5_000);
            busy.getOutputStream().write(("POST /sandboxes HTTP/1.1\r\nHost: x\r\nX-API-KEY: " + KEY_A
                    + "\r\nContent-Length: 2\r\n\r\n{}").getBytes(StandardCharsets.US_ASCII));
            Thread.sleep(900); // three idle periods while the create is blocked
            release.countDown();
            assertEquals("HTTP/1.1 201 Created", readLine(busy.getInputStream()));
            busy.close();
        }
    }
}
