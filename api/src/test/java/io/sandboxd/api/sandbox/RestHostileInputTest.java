package io.sandboxd.api.sandbox;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sandboxd.api.ApiServer;
import io.sandboxd.api.NettyServer;
import io.sandboxd.api.auth.ApiKeyStore;
import io.sandboxd.api.auth.Team;
import io.sandboxd.api.http.ApiChannelInitializer;
import io.sandboxd.api.http.RestDispatcher;
import io.sandboxd.testing.RawHttp;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The hostile-input campaign of the REST API (issue 14): every case is one bad request sent as raw bytes, with the
 * exact status it must get, a JSON {@code {"code","message"}} body, and whether the server must close the
 * connection. After each case the server must still serve a good request, and the sandbox created before the
 * campaign must still be there, unchanged, with no other sandbox made by a refused request.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class RestHostileInputTest {
    static final String KEY = "e2b_" + "ab".repeat(20);
    static final String OTHER_KEY = "e2b_" + "cd".repeat(20);
    static final String TOKEN = "sk_e2b_" + "ef".repeat(20);
    static final Team TEAM = new Team("team-a", "a");
    /** Short, so the stalled-body and slowloris cases end quickly. */
    static final Duration REQUEST_DEADLINE = Duration.ofSeconds(2);

    final FakeSandboxService service = new FakeSandboxService();
    final ApiKeyStore keys = new ApiKeyStore() {
        @Override
        public Optional<Team> authenticateApiKey(String apiKey) {
            return Optional.ofNullable(Map.of(KEY, TEAM, OTHER_KEY, new Team("team-b", "b")).get(apiKey));
        }

        @Override
        public Optional<Team> authenticateAccessToken(String token) {
            return token.equals(TOKEN) ? Optional.of(TEAM) : Optional.empty();
        }
    };
    ExecutorService workers;
    NettyServer server;
    String sentinel;
    String sentinelDetail;

    @BeforeAll
    void start() throws Exception {
        workers = Executors.newVirtualThreadPerTaskExecutor();
        server = NettyServer.start("the E2B API", new InetSocketAddress("127.0.0.1", 0), 1,
                new ApiChannelInitializer(new RestDispatcher(ApiServer.routes(service), keys), workers,
                        ApiChannelInitializer.IDLE_TIMEOUT, REQUEST_DEADLINE));
        RawHttp.Response created = exchange(post("/sandboxes",
                "{\"templateID\":\"base\",\"timeout\":600,\"metadata\":{\"owner\":\"campaign\"},\"envVars\":{\"A\":\"1\"}}"));
        assertEquals(201, created.status(), created::toString);
        sentinel = created.json().get("sandboxID").asText();
        sentinelDetail = exchange(get("/sandboxes/" + sentinel)).text();
    }

    @AfterAll
    void stop() {
        server.close();
        workers.shutdownNow();
    }

    /** The server keeps serving, the sandbox made before the campaign is untouched and no refused request made one. */
    @AfterEach
    void nothingLostAndStillServing() throws IOException {
        assertEquals(204, exchange(get("/health")).status(), "the API still answers");
        RawHttp.Response detail = exchange(get("/sandboxes/" + sentinel));
        assertEquals(200, detail.status(), detail::toString);
        assertEquals(sentinelDetail, detail.text(), "the sandbox made before the campaign is unchanged");
        List<String> made = service.sandboxes.keySet().stream().filter(id -> !id.equals(sentinel)).toList();
        made.forEach(service.sandboxes::remove); // so one failing case does not fail the ones after it
        assertEquals(List.of(), made, "no refused request made a sandbox");
        assertTrue(service.sandboxes.containsKey(sentinel));
    }

    // ---- the cases ---------------------------------------------------------------------------------------------

    /**
     * One hostile request: its raw bytes, the status it must get (every error with the JSON error body), the text
     * its message must contain (null: any), whether the server must close the connection after answering, and
     * any further check of the answer.
     */
    record Case(String name, String raw, int status, String message, boolean closes, Consumer<RawHttp.Response> more) {
        Case closing() {
            return new Case(name, raw, status, message, true, more);
        }

        Case and(Consumer<RawHttp.Response> check) {
            return new Case(name, raw, status, message, closes, check);
        }

        @Override
        public String toString() {
            return name;
        }
    }

    static Case c(String name, String raw, int status, String message) {
        return new Case(name, raw, status, message, false, r -> { });
    }

    /** A request as the SDK would frame it: Host, the API key, JSON content type and an exact Content-Length. */
    static String request(String method, String path, String body, String... headers) {
        StringBuilder b = new StringBuilder(method).append(' ').append(path).append(" HTTP/1.1\r\nHost: api.test\r\n");
        boolean ownKey = false;
        boolean ownType = false;
        for (String h : headers) {
            ownKey |= h.regionMatches(true, 0, "X-API-KEY:", 0, 10) || h.regionMatches(true, 0, "Authorization:", 0, 14)
                    || h.equals("-key");
            ownType |= h.regionMatches(true, 0, "Content-Type:", 0, 13) || h.equals("-type");
            if (!h.startsWith("-")) {
                b.append(h).append("\r\n");
            }
        }
        if (!ownKey) {
            b.append("X-API-KEY: ").append(KEY).append("\r\n");
        }
        byte[] bytes = body == null ? null : body.getBytes(StandardCharsets.ISO_8859_1);
        if (bytes != null) {
            if (!ownType) {
                b.append("Content-Type: application/json\r\n");
            }
            b.append("Content-Length: ").append(bytes.length).append("\r\n");
        }
        b.append("\r\n");
        if (body != null) {
            b.append(body);
        }
        return b.toString();
    }

    static String get(String path, String... headers) {
        return request("GET", path, null, headers);
    }

    static String post(String path, String body, String... headers) {
        return request("POST", path, body, headers);
    }


    Stream<Case> cases() {
        return Stream.of(malformedJson(), wrongTypesOfTheCreateBody(), badBodiesOfTheOtherEndpoints(), hugeBodies(),
                badSandboxIds(), badQueryParameters(), wrongMethods(), badCredentials(), badHeadersAndFraming())
                .flatMap(List::stream);
    }

    List<Case> malformedJson() {
        String deepArrays = "[".repeat(5000) + "]".repeat(5000);
        String deepObjects = "{\"a\":".repeat(5000) + "1" + "}".repeat(5000);
        return List.of(
                c("json: not JSON at all", post("/sandboxes", "{not json"), 400, "not valid JSON"),
                c("json: truncated document", post("/sandboxes", "{\"templateID\":"), 400, "not valid JSON"),
                c("json: unterminated string", post("/sandboxes", "{\"templateID\":\"base"), 400, "not valid JSON"),
                c("json: array instead of object", post("/sandboxes", "[1,2]"), 400, "JSON object"),
                c("json: bare string", post("/sandboxes", "\"base\""), 400, "JSON object"),
                c("json: bare number", post("/sandboxes", "42"), 400, "JSON object"),
                c("json: bare true", post("/sandboxes", "true"), 400, "JSON object"),
                c("json: null document", post("/sandboxes", "null"), 400, "required"),
                c("json: trailing garbage", post("/sandboxes", "{} trailing"), 400, "not valid JSON"),
                c("json: two documents", post("/sandboxes", "{}{}"), 400, "not valid JSON"),
                c("json: trailing comma", post("/sandboxes", "{\"templateID\":\"base\",}"), 400, "not valid JSON"),
                c("json: single quotes", post("/sandboxes", "{'templateID':'base'}"), 400, "not valid JSON"),
                c("json: comment", post("/sandboxes", "{\"templateID\":\"base\" /* hi */}"), 400, "not valid JSON"),
                c("json: NaN", post("/sandboxes", "{\"timeout\":NaN}"), 400, "not valid JSON"),
                c("json: invalid UTF-8", post("/sandboxes", "{\"templateID\":\"\u00ff\u00fe\"}"), 400, "not valid JSON"),
                c("json: NUL before the document", post("/sandboxes", "\u0000{}"), 400, "not valid JSON"),
                c("json: raw control character in a string", post("/sandboxes", "{\"templateID\":\"a\u0001b\"}"), 400,
                        "not valid JSON"),
                c("json: bad escape", post("/sandboxes", "{\"templateID\":\"\\q\"}"), 400, "not valid JSON"),
                c("json: lone surrogate in a metadata value", post("/sandboxes", "{\"metadata\":{\"k\":\"\\ud800\"}}"),
                        400, "Unicode"),
                c("json: lone surrogate in a key", post("/sandboxes", "{\"envVars\":{\"\\udc00\":\"v\"}}"), 400,
                        "Unicode"),
                c("json: 5000 nested arrays", post("/sandboxes", "{\"metadata\":" + deepArrays + "}"), 400,
                        "not valid JSON"),
                c("json: 5000 nested objects", post("/sandboxes", deepObjects), 400, "not valid JSON"),
                c("json: 2000-digit number", post("/sandboxes", "{\"timeout\":1" + "0".repeat(2000) + "}"), 400,
                        "not valid JSON"));
    }

    List<Case> wrongTypesOfTheCreateBody() {
        List<Case> out = new ArrayList<>();
        Map<String, List<String>> bad = new java.util.LinkedHashMap<>();
        bad.put("templateID", List.of("123", "true", "[]", "{}", "\"\"", "\"   \"", "\"../../etc/passwd\"",
                "\"base; rm -rf /\"", "\"" + "t".repeat(300) + "\""));
        bad.put("timeout", List.of("\"60\"", "1.5", "-1", "0", "86401", "1e3", "99999999999999999999", "true", "[]",
                "{}"));
        bad.put("metadata", List.of("[]", "\"x\"", "1", "true", "{\"a\":1}", "{\"a\":null}", "{\"a\":{\"b\":\"c\"}}",
                "{\"a\":[\"b\"]}"));
        bad.put("envVars", List.of("[]", "\"A=1\"", "7", "{\"A\":1}", "{\"A\":false}"));
        bad.put("secure", List.of("\"yes\"", "1", "[]"));
        bad.put("allow_internet_access", List.of("\"false\"", "0", "{}"));
        bad.put("autoPause", List.of("\"true\"", "1"));
        bad.put("autoPauseMemory", List.of("\"no\""));
        bad.put("autoResume", List.of("\"yes\"", "1", "[]", "{\"enabled\":\"yes\"}"));
        bad.put("lifecycle", List.of("\"pause\"", "[]", "{\"onTimeout\":\"explode\"}", "{\"onTimeout\":1}",
                "{\"autoResume\":\"x\"}"));
        bad.put("volumeMounts", List.of("{}", "\"x\"", "[\"x\"]", "[null]", "[{}]", "[{\"name\":1,\"path\":\"/x\"}]",
                "[{\"name\":\"a\"}]"));
        for (var e : bad.entrySet()) {
            for (String value : e.getValue()) {
                String shown = value.length() > 40 ? value.substring(0, 40) + "..." : value;
                out.add(c("create: " + e.getKey() + " = " + shown,
                        post("/sandboxes", "{\"" + e.getKey() + "\":" + value + "}"), 400, e.getKey()));
            }
        }
        out.add(c("create v2: timeout = \"300\"", post("/v2/sandboxes", "{\"timeout\":\"300\"}"), 400, "timeout"));
        out.add(c("create v2: metadata = []", post("/v2/sandboxes", "{\"metadata\":[]}"), 400, "metadata"));
        out.add(c("create v2: lone surrogate in templateID", post("/v2/sandboxes", "{\"templateID\":\"\\ud83d\"}"),
                400, "Unicode"));
        out.add(c("create: mcp is refused, not ignored", post("/sandboxes", "{\"mcp\":{\"x\":{}}}"), 501, "mcp"));
        out.add(c("create: iam is refused, not ignored", post("/sandboxes", "{\"iam\":{}}"), 501, "iam"));
        return out;
    }

    List<Case> badBodiesOfTheOtherEndpoints() {
        String s = "/sandboxes/" + sentinel;
        return List.of(
                c("timeout: no body", post(s + "/timeout", null), 400, "required"),
                c("timeout: empty object", post(s + "/timeout", "{}"), 400, "timeout"),
                c("timeout: string", post(s + "/timeout", "{\"timeout\":\"30\"}"), 400, "timeout"),
                c("timeout: negative", post(s + "/timeout", "{\"timeout\":-5}"), 400, "timeout"),
                c("timeout: above 24 h", post(s + "/timeout", "{\"timeout\":86401}"), 400, "timeout"),
                c("timeout: array body", post(s + "/timeout", "[30]"), 400, "JSON object"),
                c("refreshes: above an hour", post(s + "/refreshes", "{\"duration\":3601}"), 400, "duration"),
                c("refreshes: negative", post(s + "/refreshes", "{\"duration\":-1}"), 400, "duration"),
                c("refreshes: string", post(s + "/refreshes", "{\"duration\":\"x\"}"), 400, "duration"),
                c("connect v1: no timeout", post(s + "/connect", "{}"), 400, "timeout"),
                c("connect v1: zero timeout", post(s + "/connect", "{\"timeout\":0}"), 400, "timeout"),
                c("connect v2: negative timeout", post("/v2" + s + "/connect", "{\"timeout\":-1}"), 400, "timeout"),
                c("connect v2: memory is a string", post("/v2" + s + "/connect", "{\"memory\":\"yes\"}"), 400, "memory"),
                c("pause: memory is a string", post(s + "/pause", "{\"memory\":\"no\"}"), 400, "memory"),
                c("pause: array body", post(s + "/pause", "[]"), 400, "JSON object"),
                c("resume: timeout is a string", post(s + "/resume", "{\"timeout\":\"x\"}"), 400, "timeout"),
                c("resume: autoPause is a number", post(s + "/resume", "{\"autoPause\":1}"), 400, "autoPause"));
    }

    List<Case> hugeBodies() {
        String big = "{\"metadata\":{\"k\":\"" + "x".repeat(2 << 20) + "\"}}";
        String chunkedHead = "POST /sandboxes HTTP/1.1\r\nHost: api.test\r\nX-API-KEY: " + KEY
                + "\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
        StringBuilder chunks = new StringBuilder(chunkedHead);
        String piece = "x".repeat(64 << 10);
        for (int i = 0; i < 40; i++) {
            chunks.append(Integer.toHexString(piece.length())).append("\r\n").append(piece).append("\r\n");
        }
        chunks.append("0\r\n\r\n");
        return List.of(
                c("huge: 2 MiB body with a length", post("/sandboxes", big), 413, "larger than").closing(),
                c("huge: 2.5 MiB chunked body", chunks.toString(), 413, "larger than").closing(),
                c("huge: 1 GiB announced, little sent", "POST /sandboxes HTTP/1.1\r\nHost: api.test\r\nX-API-KEY: " + KEY
                        + "\r\nContent-Type: application/json\r\nContent-Length: 1073741824\r\n\r\n{}", 413,
                        "larger than").closing(),
                c("huge: 2 MiB announced with Expect: 100-continue",
                        "POST /sandboxes HTTP/1.1\r\nHost: api.test\r\nX-API-KEY: " + KEY
                        + "\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: 2097152\r\n\r\n",
                        413, "larger than").closing(),
                c("huge: unknown Expect", "POST /sandboxes HTTP/1.1\r\nHost: api.test\r\nX-API-KEY: " + KEY
                        + "\r\nContent-Type: application/json\r\nExpect: 200-ok\r\nContent-Length: 2\r\n\r\n{}", 417,
                        "Expect").closing());
    }

    List<Case> badSandboxIds() {
        List<Case> out = new ArrayList<>();
        String tooLong = "a".repeat(3000);
        Map<String, String> ids = new java.util.LinkedHashMap<>();
        ids.put("unknown", "nosuchsandbox");
        ids.put("dot-dot", "..");
        ids.put("encoded dot-dot", "%2e%2e");
        ids.put("encoded traversal", "%2e%2e%2f%2e%2e%2fetc%2fpasswd");
        ids.put("traversal with encoded slashes", "..%2F..%2Fetc%2Fpasswd");
        ids.put("encoded slash", "abc%2Fdef");
        ids.put("the sentinel plus an encoded slash", sentinel + "%2F..");
        ids.put("NUL", "%00");
        ids.put("NUL inside", "abc%00def");
        ids.put("SQL quote", "'%20OR%201%3D1--");
        ids.put("SQL statement", "1%3BDROP%20TABLE%20sandboxes");
        ids.put("markup", "%22%3E%3Cscript%3E");
        ids.put("upper case", "SBX00000000000000001");
        ids.put("upper case sentinel", sentinel.toUpperCase(java.util.Locale.ROOT));
        ids.put("3000 chars", tooLong);
        ids.put("look-alike Unicode", "%D1%95bx1");
        ids.put("overlong UTF-8 dots", "%C0%AE%C0%AE");
        ids.put("leading space", "%20" + sentinel);
        ids.put("wildcard", "*");
        for (var e : ids.entrySet()) {
            out.add(c("id " + e.getKey() + ": GET", get("/sandboxes/" + e.getValue()), 404, "doesn't exist"));
        }
        for (String k : List.of("dot-dot", "encoded traversal", "the sentinel plus an encoded slash", "SQL quote",
                "upper case sentinel", "wildcard")) {
            out.add(c("id " + k + ": DELETE", request("DELETE", "/sandboxes/" + ids.get(k), null), 404,
                    "doesn't exist"));
        }
        for (String k : List.of("encoded traversal", "SQL statement", "upper case sentinel")) {
            out.add(c("id " + k + ": pause", post("/sandboxes/" + ids.get(k) + "/pause", "{}"), 404, "doesn't exist"));
            out.add(c("id " + k + ": metrics", get("/sandboxes/" + ids.get(k) + "/metrics"), 404, "doesn't exist"));
        }
        out.add(c("id malformed escape", get("/sandboxes/abc%zz"), 400, "percent-encoding"));
        out.add(c("id lone percent", get("/sandboxes/%"), 400, "percent-encoding"));
        out.add(c("path: dot segments are not resolved", get("/sandboxes/../health"), 404, "No API route"));
        out.add(c("path: encoded dot segments are not resolved", get("/sandboxes/%2e%2e/health"), 404, "No API route"));
        return out;
    }

    List<Case> badQueryParameters() {
        String v2 = "/v2/sandboxes?";
        String m = "/sandboxes/" + sentinel + "/metrics?";
        String tooMany = IntStream.range(0, 101).mapToObj(i -> "s" + i).collect(Collectors.joining(","));
        return List.of(
                c("list: limit 0", get(v2 + "limit=0"), 400, "limit"),
                c("list: limit 101", get(v2 + "limit=101"), 400, "limit"),
                c("list: limit -1", get(v2 + "limit=-1"), 400, "limit"),
                c("list: limit not a number", get(v2 + "limit=abc"), 400, "limit"),
                c("list: limit fraction", get(v2 + "limit=1.5"), 400, "limit"),
                c("list: limit overflows int", get(v2 + "limit=99999999999"), 400, "limit"),
                c("list: limit NUL", get(v2 + "limit=%00"), 400, "limit"),
                c("list: limit twice", get(v2 + "limit=1&limit=2"), 400, "more than once"),
                c("list: unknown state", get(v2 + "state=sleeping"), 400, "state"),
                c("list: upper-case state", get(v2 + "state=RUNNING"), 400, "state"),
                c("list: state list of nothing", get(v2 + "state=,"), 400, "state"),
                c("list: state with an empty item", get(v2 + "state=,running"), 400, "state"),
                c("list: unknown order", get(v2 + "order=up"), 400, "order"),
                c("list: upper-case order", get(v2 + "order=ASC"), 400, "order"),
                c("list: startedAfter not a time", get(v2 + "startedAfter=yesterday"), 400, "startedAfter"),
                c("list: startedAfter month 13", get(v2 + "startedAfter=2025-13-01T00:00:00Z"), 400, "startedAfter"),
                c("list: startedAfter date only", get(v2 + "startedAfter=2025-01-01"), 400, "startedAfter"),
                c("list: startedAfter without offset", get(v2 + "startedAfter=2025-01-01T00:00:00"), 400,
                        "startedAfter"),
                c("list: metadata without value", get(v2 + "metadata=novalue"), 400, "metadata"),
                c("list: metadata without key", get(v2 + "metadata=%3Dv"), 400, "metadata"),
                c("list: metadata with two =", get(v2 + "metadata=k%3Dv%3Dw"), 400, "metadata"),
                c("list: metadata bad escape", get(v2 + "metadata=a%2525zz%3Db"), 400, "metadata"),
                c("list: metadata key twice", get(v2 + "metadata=a%3D1%26a%3D2"), 400, "metadata"),
                c("list: garbage nextToken", get(v2 + "nextToken=garbage"), 400, "nextToken"),
                c("list v1: metadata without value", get("/sandboxes?metadata=novalue"), 400, "metadata"),
                c("metrics: negative start", get(m + "start=-1"), 400, "start"),
                c("metrics: start not a number", get(m + "start=abc"), 400, "start"),
                c("metrics: start overflows long", get(m + "start=99999999999999999999"), 400, "start"),
                c("metrics: end before start", get(m + "start=10&end=5"), 400, "end"),
                c("bulk metrics: no ids", get("/sandboxes/metrics"), 400, "sandbox_ids"),
                c("bulk metrics: blank ids", get("/sandboxes/metrics?sandbox_ids=%20"), 400, "sandbox_ids"),
                c("bulk metrics: upper-case id", get("/sandboxes/metrics?sandbox_ids=ABC"), 400, "ABC"),
                c("bulk metrics: empty id in the list", get("/sandboxes/metrics?sandbox_ids=a,,b"), 400, "sandbox_ids"),
                c("bulk metrics: 101 ids", get("/sandboxes/metrics?sandbox_ids=" + tooMany), 400, "100"),
                c("logs v1: negative limit", get("/sandboxes/" + sentinel + "/logs?limit=-1"), 400, "limit"),
                c("logs v1: limit 1001", get("/sandboxes/" + sentinel + "/logs?limit=1001"), 400, "limit"),
                c("logs v1: start not a number", get("/sandboxes/" + sentinel + "/logs?start=x"), 400, "start"),
                c("logs v2: unknown direction", get("/v2/sandboxes/" + sentinel + "/logs?direction=sideways"), 400,
                        "direction"),
                c("logs v2: unknown level", get("/v2/sandboxes/" + sentinel + "/logs?level=loud"), 400, "level"),
                c("logs v2: negative cursor", get("/v2/sandboxes/" + sentinel + "/logs?cursor=-5"), 400, "cursor"));
    }

    List<Case> wrongMethods() {
        return List.of(
                c("method: PATCH /sandboxes", request("PATCH", "/sandboxes", "{}"), 405, "not allowed")
                        .and(allows("GET", "POST")),
                c("method: PUT /sandboxes/{id}", request("PUT", "/sandboxes/" + sentinel, "{}"), 405, "not allowed")
                        .and(allows("GET", "DELETE")),
                c("method: DELETE /v2/sandboxes", request("DELETE", "/v2/sandboxes", null), 405, "not allowed")
                        .and(allows("GET", "POST")),
                c("method: GET /sandboxes/{id}/pause", get("/sandboxes/" + sentinel + "/pause"), 405, "not allowed")
                        .and(allows("POST")),
                c("method: POST /health", post("/health", "{}"), 405, "not allowed").and(allows("GET")),
                c("method: unknown method FOO", request("FOO", "/sandboxes", null), 405, "not allowed"),
                c("method: lower-case get", request("get", "/health", null), 405, "not allowed").and(allows("GET")),
                c("method: TRACE", request("TRACE", "/sandboxes", null), 405, "not allowed"));
    }

    static Consumer<RawHttp.Response> allows(String... methods) {
        return r -> {
            String allow = r.header("Allow");
            assertNotNull(allow, "405 carries Allow");
            List<String> listed = Stream.of(allow.split(",")).map(String::strip).toList();
            for (String m : methods) {
                assertTrue(listed.contains(m), "Allow lists " + m + ": " + allow);
            }
        };
    }

    List<Case> badCredentials() {
        String s = "/sandboxes/" + sentinel;
        return List.of(
                c("key: none", get(s, "-key"), 401, "Missing API key"),
                c("key: empty header", get(s, "X-API-KEY:"), 401, "API key"),
                c("key: prefix only", get(s, "X-API-KEY: e2b_"), 401, "format"),
                c("key: odd number of hex digits", get(s, "X-API-KEY: e2b_abc"), 401, "format"),
                c("key: upper-case hex", get(s, "X-API-KEY: e2b_" + "AB".repeat(20)), 401, "format"),
                c("key: upper-case prefix", get(s, "X-API-KEY: E2B_" + "ab".repeat(20)), 401, "format"),
                c("key: not hex", get(s, "X-API-KEY: e2b_zz"), 401, "format"),
                c("key: right shape, unknown", get(s, "X-API-KEY: e2b_" + "00".repeat(20)), 401, "Invalid API key"),
                c("key: 7000 hex digits", get(s, "X-API-KEY: e2b_" + "ab".repeat(3500)), 401, "Invalid API key"),
                c("key: bytes above ASCII", get(s, "X-API-KEY: e2b_\u00ff\u00fe"), 401, "format"),
                c("key: an access token in X-API-KEY", get(s, "X-API-KEY: " + TOKEN), 401, "format"),
                c("key: an API key as Bearer", get(s, "Authorization: Bearer " + KEY), 401, "access token"),
                c("key: empty Bearer", get(s, "Authorization: Bearer "), 401, "Missing API key"),
                c("key: Basic auth", get(s, "Authorization: Basic dXNlcjo="), 401, "Missing API key"),
                c("key: a bad key then a good one", get(s, "X-API-KEY: e2b_" + "00".repeat(20), "X-API-KEY: " + KEY),
                        401, "more than once"),
                c("key: a good key then a bad one", get(s, "X-API-KEY: " + KEY, "X-API-KEY: e2b_" + "00".repeat(20)),
                        401, "more than once"),
                c("key: another team's key", get(s, "X-API-KEY: " + OTHER_KEY), 404, "doesn't exist"));
    }

    List<Case> badHeadersAndFraming() {
        String head = "POST /sandboxes HTTP/1.1\r\nHost: api.test\r\nX-API-KEY: " + KEY
                + "\r\nContent-Type: application/json\r\n";
        String manyHeaders = IntStream.range(0, 400).mapToObj(i -> "X-Filler-" + i + ": " + "v".repeat(20) + "\r\n")
                .collect(Collectors.joining());
        return List.of(
                c("header: one 10 KiB header line", get("/health", "X-Big: " + "b".repeat(10 << 10)), 431,
                        "header").closing(),
                c("header: 400 headers, 12 KiB in all", get("/health", manyHeaders.strip().split("\r\n")), 431,
                        "header").closing(),
                c("header: 5000-byte request line", get("/sandboxes/" + "a".repeat(5000)), 414, "line").closing(),
                c("header: no Host on HTTP/1.1", "GET /health HTTP/1.1\r\n\r\n", 400, "Host").closing(),
                c("header: two Host headers", get("/health", "Host: other.test"), 400, "Host").closing(),
                c("header: space in a header name", get("/health", "Bad Header: x"), 400, "Bad HTTP request")
                        .closing(),
                c("header: line without a colon", get("/health", "NoColonHere"), 400, "Bad HTTP request").closing(),
                c("content type: text/plain", post("/sandboxes", "{}", "Content-Type: text/plain"), 415, "Content-Type"),
                c("content type: form", post("/sandboxes", "templateID=base",
                        "Content-Type: application/x-www-form-urlencoded"), 415, "Content-Type"),
                c("content type: multipart", post("/sandboxes", "--x--", "Content-Type: multipart/form-data; boundary=x"),
                        415, "Content-Type"),
                c("content type: garbage", post("/sandboxes", "{}", "Content-Type: ;;;"), 415, "Content-Type"),
                c("framing: Content-Length not a number", head + "Content-Length: abc\r\n\r\n{}", 400,
                        "Bad HTTP request").closing(),
                c("framing: negative Content-Length", head + "Content-Length: -1\r\n\r\n{}", 400, "Bad HTTP request")
                        .closing(),
                c("framing: two different Content-Lengths", head + "Content-Length: 2\r\nContent-Length: 3\r\n\r\n{} ",
                        400, "Bad HTTP request").closing(),
                c("framing: Content-Length and chunked", head + "Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n"
                        + "2\r\n{}\r\n0\r\n\r\n", 400, "Transfer-Encoding").closing(),
                c("framing: chunked, identity", head + "Transfer-Encoding: chunked, identity\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
                        400, "Transfer-Encoding").closing(),
                c("framing: xchunked", head + "Transfer-Encoding: xchunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n", 400,
                        "Transfer-Encoding").closing(),
                c("framing: bad chunk size", head + "Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n", 400,
                        "Bad HTTP request").closing(),
                c("framing: body stops short of its length", head + "Content-Length: 100\r\n\r\n{\"templ", 408,
                        "complete request").closing(),
                c("framing: head never ends", "GET /health HTTP/1.1\r\nHost: api.test\r\nX-Slow: ", 408,
                        "complete request").closing(),
                c("protocol: HTTP/9.9", "GET /health HTTP/9.9\r\nHost: api.test\r\n\r\n", 505, "HTTP/9.9").closing(),
                c("protocol: request line without a target", "GET\r\n\r\n", 400, "Bad HTTP request").closing(),
                c("protocol: TLS ClientHello on the plain port",
                        "\u0016\u0003\u0001\u0002\u0000\u0001\u0000\u0001\u00fc\u0003\u0003" + "\u0000".repeat(40)
                                + "\r\n\r\n", 400, "Bad HTTP request").closing(),
                new Case("pipelining: a bad create, then health, in one write",
                        post("/sandboxes", "{\"timeout\":-1}") + get("/health"), 400, "timeout", false, r -> { }));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void campaign(Case c) throws Exception {
        try (RawHttp http = new RawHttp(server.port())) {
            // Sent from another thread: the server may answer (and close) before a huge body is all written.
            Thread sender = Thread.ofVirtual().start(() -> {
                try {
                    http.send(c.raw());
                } catch (IOException refusedMidway) {
                    // the answer is read below
                }
            });
            RawHttp.Response r = http.read();
            sender.join();
            if (c.status() >= 400) {
                var body = r.assertJsonError(c.status());
                if (c.message() != null) {
                    assertTrue(body.get("message").asText().contains(c.message()),
                            () -> "message of " + c + " mentions '" + c.message() + "': " + r.text());
                }
            } else {
                assertEquals(c.status(), r.status(), r::toString);
            }
            c.more().accept(r);
            if (c.closes()) {
                assertTrue(http.closedByServer(), "the server closes the connection after " + c);
            } else if (c.name().startsWith("pipelining")) {
                assertEquals(204, http.read().status(), "the request behind the bad one is answered");
            } else if (r.header("Connection") == null || !r.header("Connection").equalsIgnoreCase("close")) {
                assertEquals(204, http.exchange(get("/health")).status(), "the connection stays usable after " + c);
            }
        }
    }

    /**
     * A client that sends a request head one byte at a time and never finishes is cut off at the request deadline,
     * while other clients are served meanwhile on the same (single) event loop.
     */
    @Test
    void slowlorisIsCutOffWhileOthersAreServed() throws Exception {
        AtomicBoolean stop = new AtomicBoolean();
        try (Socket slow = new Socket("127.0.0.1", server.port())) {
            slow.setSoTimeout(15_000);
            OutputStream out = slow.getOutputStream();
            Thread dribbler = Thread.ofVirtual().start(() -> {
                byte[] endless = ("GET /health HTTP/1.1\r\nHost: api.test\r\nX-Slow: " + "s".repeat(100_000))
                        .getBytes(StandardCharsets.US_ASCII);
                try {
                    for (int i = 0; i < endless.length && !stop.get(); i++) {
                        out.write(endless[i]);
                        out.flush();
                        Thread.sleep(50);
                    }
                } catch (IOException | InterruptedException cutOff) {
                    // the server hung up: what this test wants
                }
            });
            for (int i = 0; i < 5; i++) {
                assertEquals(204, exchange(get("/health")).status(), "others are served during the slowloris");
            }
            byte[] answer = slow.getInputStream().readAllBytes();
            String text = new String(answer, StandardCharsets.ISO_8859_1);
            assertTrue(text.startsWith("HTTP/1.1 408 "), "the slowloris gets 408 and is closed: " + text);
            assertTrue(text.contains("\"code\":408"), text);
            stop.set(true);
            dribbler.join(10_000);
            assertFalse(dribbler.isAlive());
        }
    }

    RawHttp.Response exchange(String raw) throws IOException {
        try (RawHttp http = new RawHttp(server.port())) {
            return http.exchange(raw);
        }
    }
}
