package io.sandboxd.api.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpServer;
import io.sandboxd.testing.RawHttp;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The hostile-input campaign of the sandbox proxy (issue 14): bad Host headers and the shapes of request smuggling,
 * sent as raw bytes. Each gets its exact status and JSON body; a request whose framing two parties could read
 * differently is answered 400 and its connection closed, and the sandbox behind the proxy never receives it as a
 * complete request. After each case the proxy still relays a good request.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ProxyHostileInputTest {
    static final String DOMAIN = "sandbox.test";
    static final String HOST = "8080-aaa." + DOMAIN;

    /** Requests the stand-in sandbox service received whole: "METHOD URI body-length". */
    final List<String> completed = new CopyOnWriteArrayList<>();
    final AtomicInteger markers = new AtomicInteger();
    HttpServer upstream;
    SandboxProxyServer proxy;

    @BeforeAll
    void start() throws Exception {
        upstream = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        upstream.setExecutor(Executors.newVirtualThreadPerTaskExecutor());
        upstream.createContext("/", ex -> {
            byte[] body;
            try (InputStream in = ex.getRequestBody()) {
                body = in.readAllBytes();
            } catch (IOException cut) {
                ex.close(); // an incomplete request is not recorded
                return;
            }
            completed.add(ex.getRequestMethod() + " " + ex.getRequestURI() + " " + body.length + " folded="
                    + ex.getRequestHeaders().getFirst("X-Folded"));
            byte[] answer = ("seen " + ex.getRequestURI()).getBytes(StandardCharsets.UTF_8);
            ex.sendResponseHeaders(200, answer.length);
            try (OutputStream out = ex.getResponseBody()) {
                out.write(answer);
            }
        });
        upstream.start();
        Map<String, SandboxRouter.Resolution> table = Map.of(
                "aaa", new SandboxRouter.Resolution.Found(upstream.getAddress(), null));
        SandboxRouter router = (id, port) -> CompletableFuture.completedFuture(
                table.getOrDefault(id, new SandboxRouter.Resolution.NotFound()));
        proxy = SandboxProxyServer.start(new InetSocketAddress("127.0.0.1", 0), DOMAIN, router, 1);
    }

    @AfterAll
    void stop() {
        proxy.close();
        upstream.stop(0);
    }

    /** The proxy keeps relaying for others. */
    @AfterEach
    void stillServing() throws IOException {
        try (RawHttp http = new RawHttp(proxy.port())) {
            RawHttp.Response r = http.exchange("GET /ok HTTP/1.1\r\nHost: " + HOST + "\r\n\r\n");
            assertEquals(200, r.status(), r::toString);
            assertEquals("seen /ok", r.text());
        }
    }

    /**
     * One hostile request; {@code {m}} in its bytes becomes a path unique to the case, so the test can tell whether
     * the sandbox service received it. {@code forwarded}: whether it must reach the service (well-formed requests
     * the proxy relays) or must never reach it whole.
     */
    record Case(String name, String raw, int status, String message, boolean closes, boolean forwarded) {
        @Override
        public String toString() {
            return name;
        }
    }

    static Case refused(String name, String raw, int status, String message) {
        return new Case(name, raw, status, message, false, false);
    }

    /** Refused, and the connection closed: what follows on it cannot be framed with confidence. */
    static Case cut(String name, String raw, int status, String message) {
        return new Case(name, raw, status, message, true, false);
    }

    static String get(String host, String... headers) {
        StringBuilder b = new StringBuilder("GET {m} HTTP/1.1\r\n");
        if (host != null) {
            b.append("Host: ").append(host).append("\r\n");
        }
        for (String h : headers) {
            b.append(h).append("\r\n");
        }
        return b.append("\r\n").toString();
    }

    static String post(String framing, String body) {
        return "POST {m} HTTP/1.1\r\nHost: " + HOST + "\r\n" + framing + "\r\n" + body;
    }

    Stream<Case> cases() {
        List<Case> all = new ArrayList<>();
        all.addAll(badHosts());
        all.addAll(smugglingShapes());
        return all.stream();
    }

    List<Case> badHosts() {
        String shared = "E2b-Sandbox-Id: aaa";
        return List.of(
                cut("host: none", get(null), 400, "Host"),
                refused("host: empty", get(""), 400, "Invalid host"),
                refused("host: one label", get("aaa"), 400, "Invalid host"),
                refused("host: no port part", get("aaa." + DOMAIN), 400, "Invalid host"),
                new Case("host: unknown sandbox", get("8080-nosuch." + DOMAIN), 502, "The sandbox was not found",
                        false, false),
                refused("host: port not a number", get("http-aaa." + DOMAIN), 400, "Invalid sandbox port"),
                refused("host: port 0", get("0-aaa." + DOMAIN), 400, "Invalid sandbox port"),
                refused("host: port 65536", get("65536-aaa." + DOMAIN), 400, "Invalid sandbox port"),
                refused("host: port overflows int", get("99999999999-aaa." + DOMAIN), 400, "Invalid sandbox port"),
                refused("host: negative port", get("-1-aaa." + DOMAIN), 400, "Invalid sandbox port"),
                new Case("host: upper case is the same DNS name", get("8080-AAA." + DOMAIN.toUpperCase()), 200, null,
                        false, true),
                refused("host: id with a space", get("8080-a a." + DOMAIN), 400, "Invalid sandbox ID"),
                refused("host: id with bytes above ASCII", get("8080-\u00e4aa." + DOMAIN), 400, "Invalid sandbox ID"),
                refused("host: userinfo before the name", get("user@8080-aaa." + DOMAIN), 400, "Invalid sandbox port"),
                new Case("host: 6000-character id", get("8080-" + "a".repeat(6000) + "." + DOMAIN), 502,
                        "The sandbox was not found", false, false),
                cut("host: 9000-character Host", get("8080-" + "a".repeat(9000) + "." + DOMAIN), 431, "too large"),
                cut("host: two Host headers", get(HOST, "Host: 8080-nosuch." + DOMAIN), 400, "Host"),
                cut("host: the same Host twice", get(HOST, "Host: " + HOST), 400, "Host"),
                refused("host: IPv4 literal without routing headers", get("127.0.0.1:3002"), 400, "Invalid host"),
                refused("host: IPv6 literal without routing headers", get("[::1]:3002"), 400, "Invalid host"),
                refused("host: IP literal with only the id header", get("127.0.0.1", shared), 400, "missing header"),
                refused("host: routing header port out of range", get("127.0.0.1", shared, "E2b-Sandbox-Port: 70000"),
                        400, "Invalid sandbox port"),
                refused("host: routing header port in hex", get("localhost", shared, "E2b-Sandbox-Port: 0x50"), 400,
                        "Invalid sandbox port"),
                refused("host: routing header id with traversal", get("sandbox." + DOMAIN,
                        "E2b-Sandbox-Id: ../aaa", "E2b-Sandbox-Port: 8080"), 400, "Invalid sandbox ID"),
                refused("host: routing header id upper case", get("localhost", "E2b-Sandbox-Id: AAA",
                        "E2b-Sandbox-Port: 8080"), 400, "Invalid sandbox ID"),
                refused("host: two routing id headers", get("localhost", "E2b-Sandbox-Id: nosuch", shared,
                        "E2b-Sandbox-Port: 8080"), 400, "more than once"),
                cut("target: absolute form naming a host", "GET http://8080-aaa." + DOMAIN + "{m} HTTP/1.1\r\nHost: "
                        + HOST + "\r\n\r\n", 400, "request target"),
                cut("target: CONNECT authority form", "CONNECT 8080-aaa." + DOMAIN + ":443 HTTP/1.1\r\nHost: " + HOST
                        + "\r\n\r\n{m}", 400, "request target"));
    }

    List<Case> smugglingShapes() {
        return List.of(
                cut("smuggling: Content-Length then chunked", post("Content-Length: 4\r\nTransfer-Encoding: chunked\r\n",
                        "5\r\nhello\r\n0\r\n\r\n"), 400, "Transfer-Encoding"),
                cut("smuggling: chunked then Content-Length", post("Transfer-Encoding: chunked\r\nContent-Length: 4\r\n",
                        "5\r\nhello\r\n0\r\n\r\n"), 400, "Transfer-Encoding"),
                cut("smuggling: two different Content-Lengths", post("Content-Length: 5\r\nContent-Length: 6\r\n",
                        "hello!"), 400, "Content-Length"),
                cut("smuggling: the same Content-Length twice", post("Content-Length: 5\r\nContent-Length: 5\r\n",
                        "hello"), 400, "Content-Length"),
                cut("smuggling: Content-Length list", post("Content-Length: 5, 5\r\n", "hello"), 400, "Content-Length"),
                cut("smuggling: signed Content-Length", post("Content-Length: +5\r\n", "hello"), 400, "Content-Length"),
                cut("smuggling: hex Content-Length", post("Content-Length: 0x5\r\n", "hello"), 400, "Content-Length"),
                cut("smuggling: Content-Length with two numbers", post("Content-Length: 5 5\r\n", "hello"), 400,
                        "Content-Length"),
                cut("smuggling: Content-Length past 2^63", post("Content-Length: 99999999999999999999\r\n", "hello"),
                        400, "Content-Length"),
                cut("smuggling: chunked, identity", post("Transfer-Encoding: chunked, identity\r\n",
                        "5\r\nhello\r\n0\r\n\r\n"), 400, "Transfer-Encoding"),
                cut("smuggling: gzip, chunked", post("Transfer-Encoding: gzip, chunked\r\n", "5\r\nhello\r\n0\r\n\r\n"),
                        400, "Transfer-Encoding"),
                cut("smuggling: xchunked", post("Transfer-Encoding: xchunked\r\n", "5\r\nhello\r\n0\r\n\r\n"), 400,
                        "Transfer-Encoding"),
                cut("smuggling: chunked twice", post("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
                        "5\r\nhello\r\n0\r\n\r\n"), 400, "Transfer-Encoding"),
                cut("smuggling: space before the colon", post("Transfer-Encoding : chunked\r\n",
                        "5\r\nhello\r\n0\r\n\r\n"), 400, "Bad HTTP request"),
                cut("smuggling: Transfer-Encoding folded", post("Transfer-Encoding:\r\n chunked\r\n",
                        "5\r\nhello\r\n0\r\n\r\n"), 400, "Bad HTTP request"),
                // RFC 9112 5.2 lets a recipient replace obs-fold with a space: the sandbox gets one plain line.
                new Case("smuggling: folded header is unfolded", get(HOST, "X-Folded: a", " b"), 200, null, false,
                        true),
                cut("smuggling: chunked on HTTP/1.0", "POST {m} HTTP/1.0\r\nHost: " + HOST
                        + "\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 400, "HTTP/1.0"),
                cut("smuggling: bad chunk size", post("Transfer-Encoding: chunked\r\n", "zz\r\nhello\r\n0\r\n\r\n"),
                        400, "chunk"),
                cut("smuggling: chunk size past 2^63", post("Transfer-Encoding: chunked\r\n",
                        "fffffffffffffffffff\r\nhello\r\n0\r\n\r\n"), 400, "Chunk size"),
                cut("smuggling: signed chunk size", post("Transfer-Encoding: chunked\r\n", "+5\r\nhello\r\n0\r\n\r\n"),
                        400, "chunk"),
                cut("smuggling: chunk data longer than its size", post("Transfer-Encoding: chunked\r\n",
                        "5\r\nhelloXX\r\n0\r\n\r\n"), 400, "Chunk data"),
                cut("smuggling: bad chunk after a good one", post("Transfer-Encoding: chunked\r\n",
                        "5\r\nhello\r\nqq\r\nworld\r\n0\r\n\r\n"), 400, "chunk"),
                cut("smuggling: LF-only line ends in the head", "GET {m} HTTP/1.1\nHost: " + HOST + "\n\n", 400,
                        "Bad HTTP request"),
                cut("smuggling: LF-only line ends in chunks", post("Transfer-Encoding: chunked\r\n",
                        "5\nhello\n0\n\n"), 400, "chunk"),
                cut("smuggling: bare CR inside a header", get(HOST, "X-A: a\rTransfer-Encoding: chunked"), 400,
                        "Bad HTTP request"),
                cut("smuggling: NUL in a header value", get(HOST, "X-A: a\u0000b"), 400, "Bad HTTP request"),
                cut("smuggling: HTTP/2 preface on HTTP/1.1", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505, "HTTP/2.0"),
                cut("smuggling: 5000-byte request line", "GET /" + "a".repeat(5000) + " HTTP/1.1\r\nHost: " + HOST
                        + "\r\n\r\n", 414, "line"),
                cut("smuggling: space in a header name", get(HOST, "Content Length: 5"), 400, "Bad HTTP request"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void campaign(Case c) throws Exception {
        String marker = "/hostile-" + markers.incrementAndGet();
        String raw = c.raw().replace("{m}", marker);
        try (RawHttp http = new RawHttp(proxy.port())) {
            Thread sender = Thread.ofVirtual().start(() -> {
                try {
                    http.send(raw);
                } catch (IOException refusedMidway) {
                    // the answer is read below
                }
            });
            RawHttp.Response r = http.read();
            sender.join();
            if (c.status() >= 400) {
                JsonNode body = r.assertJsonError(c.status());
                if (c.message() != null) {
                    assertTrue(body.get("message").asText().contains(c.message()),
                            () -> "message of " + c + " mentions '" + c.message() + "': " + r.text());
                }
            } else {
                assertEquals(c.status(), r.status(), r::toString);
            }
            if (c.closes()) {
                assertTrue(http.closedByServer(), "the proxy closes the connection after " + c);
            } else {
                RawHttp.Response next = http.exchange("GET /again HTTP/1.1\r\nHost: " + HOST + "\r\n\r\n");
                assertEquals("seen /again", next.text(), "the connection stays usable after " + c);
            }
        }
        List<String> reached = completed.stream().filter(s -> s.contains(marker + " ")).toList();
        if (c.forwarded()) {
            assertEquals(1, reached.size(), () -> c + " reached the sandbox once: " + completed);
            String expected = "GET " + marker + " 0 folded=" + (c.raw().contains("X-Folded") ? "a b" : "null");
            assertEquals(expected, reached.getFirst(), "what the sandbox received, re-framed");
        } else {
            assertEquals(List.of(), reached, () -> c + " never reached the sandbox as a complete request");
        }
    }
}
