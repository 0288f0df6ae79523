package io.sandboxd.api.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.sandboxd.api.http.Json;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The proxy relaying to real upstream HTTP servers standing in for services inside sandboxes. */
class SandboxProxyTest {
    static final String DOMAIN = "sandbox.test";

    final Map<String, SandboxRouter.Resolution> table = new ConcurrentHashMap<>();
    final AtomicInteger initCalls = new AtomicInteger();
    /** What the proxy reported as unreachable, as "id:port". */
    final java.util.List<String> unreachable = new java.util.concurrent.CopyOnWriteArrayList<>();
    final AtomicLong uploaded = new AtomicLong();
    final CountDownLatch firstChunkSeen = new CountDownLatch(1);
    final CountDownLatch uploadStarted = new CountDownLatch(1);
    HttpServer upstreamA;
    HttpServer upstreamB;
    SandboxProxyServer proxy;
    HttpClient client;

    @BeforeEach
    void start() throws Exception {
        upstreamA = upstream("A");
        upstreamB = upstream("B");
        table.put("aaa", new SandboxRouter.Resolution.Found(upstreamA.getAddress(), null));
        table.put("bbb", new SandboxRouter.Resolution.Found(upstreamB.getAddress(), null));
        table.put("sec", new SandboxRouter.Resolution.Found(upstreamA.getAddress(), "tok-123"));
        table.put("napping", new SandboxRouter.Resolution.Paused());
        table.put("moving", new SandboxRouter.Resolution.Transitioning());
        SandboxRouter router = new SandboxRouter() {
            @Override
            public CompletableFuture<Resolution> resolve(String id, int port) {
                return CompletableFuture.completedFuture(table.getOrDefault(id, new Resolution.NotFound()));
            }

            @Override
            public void unreachable(String id, int port) {
                unreachable.add(id + ":" + port);
            }
        };
        proxy = SandboxProxyServer.start(new InetSocketAddress("127.0.0.1", 0), DOMAIN, router, 1);
        client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    }

    @AfterEach
    void stop() {
        client.close();
        proxy.close();
        upstreamA.stop(0);
        upstreamB.stop(0);
    }

    private HttpServer upstream(String name) throws IOException {
        HttpServer s = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        s.setExecutor(Executors.newVirtualThreadPerTaskExecutor());
        s.createContext("/", ex -> replyAfterBody(ex, 200, name + " " + ex.getRequestMethod() + " "
                + ex.getRequestURI() + " token=" + ex.getRequestHeaders().getFirst("e2b-traffic-access-token")));
        s.createContext("/init", ex -> {
            initCalls.incrementAndGet();
            reply(ex, 200, "init reached");
        });
        s.createContext("/stream", ex -> {
            ex.getResponseHeaders().set("Content-Type", "application/connect+json");
            ex.sendResponseHeaders(200, 0); // chunked
            try (OutputStream out = ex.getResponseBody()) {
                out.write("first\n".getBytes(StandardCharsets.UTF_8));
                out.flush();
                // The rest only comes once the client has seen the first chunk: a buffering proxy would hang here.
                if (!firstChunkSeen.await(10, TimeUnit.SECONDS)) {
                    out.write("TIMEOUT\n".getBytes(StandardCharsets.UTF_8));
                }
                out.write("second\n".getBytes(StandardCharsets.UTF_8));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        s.createContext("/upload", ex -> {
            long n = 0;
            byte[] buf = new byte[64 * 1024];
            try (InputStream in = ex.getRequestBody()) {
                int r;
                while ((r = in.read(buf)) >= 0) {
                    if (n == 0 && r > 0) {
                        uploadStarted.countDown();
                    }
                    n += r;
                }
            }
            uploaded.set(n);
            reply(ex, 200, Long.toString(n));
        });
        s.start();
        return s;
    }

    /**
     * Reads what the client sent before answering: closing with unread bytes makes the kernel send a reset, which
     * can overtake the response on its way to the proxy and look like a sandbox that hung up without answering.
     */
    private static void replyAfterBody(HttpExchange ex, int status, String body) throws IOException {
        ex.getRequestBody().transferTo(OutputStream.nullOutputStream());
        reply(ex, status, body);
    }

    private static void reply(HttpExchange ex, int status, String body) throws IOException {
        byte[] b = body.getBytes(StandardCharsets.UTF_8);
        ex.sendResponseHeaders(status, b.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(b);
        }
    }

    HttpRequest.Builder to(String sandboxId, int port, String path) {
        return HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + proxy.port() + path))
                .timeout(Duration.ofSeconds(15))
                .header(ProxyRoute.SANDBOX_ID_HEADER, sandboxId)
                .header(ProxyRoute.SANDBOX_PORT_HEADER, Integer.toString(port));
    }

    HttpResponse<String> send(HttpRequest.Builder b) throws Exception {
        return client.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    static JsonNode json(HttpResponse<String> r) {
        assertEquals("application/json", r.headers().firstValue("content-type").orElse(""), r.body());
        return Json.parse(r.body().getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void relaysToTheSandboxOfEachRequestOnOneConnection() throws Exception {
        for (int i = 0; i < 3; i++) {
            assertEquals("A GET /x?i=" + i + " token=null", send(to("aaa", 49983, "/x?i=" + i)).body());
            assertEquals("B POST /y token=null",
                    send(to("bbb", 8080, "/y").POST(HttpRequest.BodyPublishers.ofString("body"))).body());
        }
    }

    @Test
    void streamsResponsesAsTheyCome() throws Exception {
        HttpResponse<InputStream> r = client.send(to("aaa", 49983, "/stream").build(),
                HttpResponse.BodyHandlers.ofInputStream());
        assertEquals(200, r.statusCode());
        try (InputStream in = r.body()) {
            assertEquals("first", readLine(in));
            firstChunkSeen.countDown();
            assertEquals("second", readLine(in));
        }
    }

    @Test
    void streamsUploadsWithoutHoldingThemWhole() throws Exception {
        long size = 64L << 20;
        InputStream body = new InputStream() {
            long sent;

            @Override
            public int read() {
                throw new UnsupportedOperationException();
            }

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                if (sent >= size) {
                    return -1;
                }
                if (sent > (8 << 20)) {
                    // Past 8 MiB the upstream must already have bytes: a proxy that waits for the whole body hangs.
                    try {
                        if (!uploadStarted.await(10, TimeUnit.SECONDS)) {
                            throw new IOException("upstream saw nothing after 8 MiB: the proxy is buffering");
                        }
                    } catch (InterruptedException e) {
                        throw new IOException(e);
                    }
                }
                int n = (int) Math.min(len, size - sent);
                sent += n;
                return n;
            }
        };
        HttpResponse<String> r = send(to("aaa", 8080, "/upload")
                .POST(HttpRequest.BodyPublishers.ofInputStream(() -> body)));
        assertEquals(200, r.statusCode(), r.body());
        assertEquals(Long.toString(size), r.body());
        assertEquals(size, uploaded.get());
    }

    @Test
    void aRouterMayAnswerLaterAsWhenAutoResumingAPausedSandbox() throws Exception {
        proxy.close();
        var resumer = Executors.newSingleThreadScheduledExecutor();
        try {
            // The routing port completes off the event loop after a while, the way a resume on first request would.
            SandboxRouter slow = (id, port) -> {
                CompletableFuture<SandboxRouter.Resolution> done = new CompletableFuture<>();
                resumer.schedule(() -> done.complete(new SandboxRouter.Resolution.Found(upstreamB.getAddress(),
                        null)), 200, TimeUnit.MILLISECONDS);
                return done;
            };
            proxy = SandboxProxyServer.start(new InetSocketAddress("127.0.0.1", 0), DOMAIN, slow, 1);
            HttpResponse<String> r = send(to("sleepy", 49983, "/files").POST(HttpRequest.BodyPublishers.ofString(
                    "x".repeat(100_000))));
            assertEquals("B POST /files token=null", r.body());
            // Meanwhile the single event loop kept serving: another request resolved just as late, in parallel.
            CompletableFuture<HttpResponse<String>> a = client.sendAsync(to("s1", 49983, "/1").build(),
                    HttpResponse.BodyHandlers.ofString());
            CompletableFuture<HttpResponse<String>> b = client.sendAsync(to("s2", 49983, "/2").build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals("B GET /1 token=null", a.get(10, TimeUnit.SECONDS).body());
            assertEquals("B GET /2 token=null", b.get(10, TimeUnit.SECONDS).body());
        } finally {
            resumer.shutdownNow();
        }
    }

    @Test
    void goneSandboxIs502Json() throws Exception {
        HttpResponse<String> r = send(to("nosuch", 49983, "/health"));
        assertEquals(502, r.statusCode());
        JsonNode b = json(r);
        assertEquals("nosuch", b.get("sandboxId").asText());
        assertEquals("The sandbox was not found", b.get("message").asText());
        assertEquals(502, b.get("code").asInt());

        assertEquals(502, send(to("napping", 49983, "/health")).statusCode());
        HttpResponse<String> moving = send(to("moving", 49983, "/health"));
        assertEquals(409, moving.statusCode());
        assertEquals(409, json(moving).get("code").asInt());
    }

    @Test
    void closedPortIs502WithThePort() throws Exception {
        int closedPort;
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            closedPort = s.getLocalPort();
        }
        table.put("ccc", new SandboxRouter.Resolution.Found(new InetSocketAddress("127.0.0.1", closedPort), null));
        HttpResponse<String> r = send(to("ccc", 3000, "/"));
        assertEquals(502, r.statusCode());
        JsonNode b = json(r);
        assertEquals(3000, b.get("port").asInt());
        assertEquals("ccc", b.get("sandboxId").asText());
        assertEquals("A GET / token=null", send(to("aaa", 3000, "/")).body(), "the connection is usable after");
        assertEquals(java.util.List.of("ccc:3000"), unreachable, "the router hears of the closed port, only of it");
    }

    @Test
    void envdInitIsRefusedFromOutside() throws Exception {
        HttpResponse<String> r = send(to("aaa", 49983, "/init").POST(HttpRequest.BodyPublishers.ofString("{}")));
        assertEquals(404, r.statusCode());
        assertEquals(404, json(r).get("code").asInt());
        assertEquals(404, send(to("aaa", 49983, "/%69nit")).statusCode());
        assertEquals(0, initCalls.get());
        assertEquals("init reached", send(to("aaa", 8080, "/init")).body(), "only envd's port is special");
    }

    /**
     * A request target in absolute form ({@code POST http://host/init}, RFC 9112 3.2.2), which servers must accept:
     * the JDK's server here routes it to /init, so the proxy must see the path inside it too.
     */
    @Test
    void envdInitIsRefusedInAbsoluteForm() throws Exception {
        String host = "49983-aaa." + DOMAIN;
        for (String target : new String[] {"http://" + host + "/init", "HTTP://" + host.toUpperCase() + "//%69nit",
                "http://" + host + ":49983/x/../init?y=1", "https://user@" + host + "/init", "//" + host + "/init"}) {
            try (Socket s = new Socket("127.0.0.1", proxy.port())) {
                s.setSoTimeout(10_000);
                String req = "POST " + target + " HTTP/1.1\r\nHost: " + host + "\r\nContent-Length: 2\r\n"
                        + "Connection: close\r\n\r\n{}";
                s.getOutputStream().write(req.getBytes(StandardCharsets.US_ASCII));
                String all = new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                // An absolute-form target is refused before routing (it names a host of its own); "//host/init"
                // is a path, and the internal-route guard must see /init in it.
                boolean absolute = !target.startsWith("/");
                assertTrue(absolute
                        ? all.startsWith("HTTP/1.1 400 ") && all.contains("the request target must be a path")
                        : all.startsWith("HTTP/1.1 404 ") && all.contains("internal to the sandbox"), target + ": " + all);
            }
        }
        assertEquals(0, initCalls.get());
        assertEquals("A GET /health token=null", send(to("aaa", 49983, "/health")).body(), "other envd routes pass");
    }

    @Test
    void trafficTokenIsCheckedOnNonEnvdPorts() throws Exception {
        HttpResponse<String> none = send(to("sec", 8080, "/"));
        assertEquals(403, none.statusCode());
        assertEquals(403, json(none).get("code").asInt());
        assertEquals(403, send(to("sec", 8080, "/").header("e2b-traffic-access-token", "wrong")).statusCode());
        assertEquals("A GET / token=tok-123",
                send(to("sec", 8080, "/").header("e2b-traffic-access-token", "tok-123")).body());
        assertEquals(200, send(to("sec", 49983, "/")).statusCode(), "envd has its own token check");
    }

    @Test
    void badRoutingIs400WithTheSpecMessages() throws Exception {
        HttpResponse<String> r = send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + proxy.port() + "/"))
                .header(ProxyRoute.SANDBOX_ID_HEADER, "aaa"));
        assertEquals(400, r.statusCode());
        assertEquals("missing header", json(r).get("message").asText());
        assertEquals("Invalid sandbox ID", json(send(to("AAA", 49983, "/"))).get("message").asText());
        assertEquals("Invalid sandbox port", json(send(to("aaa", 0, "/"))).get("message").asText());
        HttpResponse<String> noRoute = send(HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + proxy.port() + "/")));
        assertEquals("Invalid host", json(noRoute).get("message").asText());
    }

    @Test
    void aClientThatHangsUpMidStreamClosesTheSandboxConnection() throws Exception {
        try (ServerSocket slow = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            CompletableFuture<Long> upstreamSawEof = new CompletableFuture<>();
            Thread.ofVirtual().start(() -> {
                try (Socket up = slow.accept()) {
                    InputStream in = up.getInputStream();
                    ByteArrayOutputStream head = new ByteArrayOutputStream();
                    while (!head.toString(StandardCharsets.US_ASCII).endsWith("\r\n\r\n")) {
                        head.write(in.read());
                    }
                    in.readNBytes(2); // the body, "{}"
                    OutputStream out = up.getOutputStream();
                    // A stream that would go on for a minute: a code cell, a log tail.
                    out.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nfirst\n\r\n"
                            .getBytes(StandardCharsets.US_ASCII));
                    out.flush();
                    long t0 = System.nanoTime();
                    up.setSoTimeout(60_000);
                    int r = in.read();
                    upstreamSawEof.complete(r < 0 ? (System.nanoTime() - t0) / 1_000_000 : -2);
                } catch (IOException e) {
                    upstreamSawEof.complete(-1L); // a reset is a hang-up too
                }
            });
            table.put("slow", new SandboxRouter.Resolution.Found(
                    new InetSocketAddress("127.0.0.1", slow.getLocalPort()), null));
            try (Socket s = new Socket("127.0.0.1", proxy.port())) {
                s.setSoTimeout(10_000);
                s.getOutputStream().write(("POST /execute HTTP/1.1\r\nHost: 49999-slow." + DOMAIN + "\r\n"
                        + "Content-Length: 2\r\n\r\n{}").getBytes(StandardCharsets.US_ASCII));
                InputStream in = s.getInputStream();
                assertEquals("HTTP/1.1 200 OK", readLine(in));
                String line;
                do {
                    line = readLine(in);
                } while (!line.equals("first"));
            }
            // Before: the proxy read nothing from the client until the answer ended, so it never saw it leave.
            long waited = upstreamSawEof.get(10, TimeUnit.SECONDS);
            assertTrue(waited != -2, "the sandbox side got bytes instead of its connection closing");
        }
    }

    @Test
    void hostRuleOverARawConnection() throws Exception {
        try (Socket s = new Socket("127.0.0.1", proxy.port())) {
            s.setSoTimeout(10_000);
            String req = "GET /hello HTTP/1.1\r\nHost: 8080-bbb." + DOMAIN + ":3002\r\n\r\n"
                    + "GET /again HTTP/1.1\r\nHost: 49983-aaa." + DOMAIN + "\r\nConnection: close\r\n\r\n";
            s.getOutputStream().write(req.getBytes(StandardCharsets.US_ASCII));
            String all = new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            int first = all.indexOf("B GET /hello");
            int second = all.indexOf("A GET /again");
            assertTrue(first > 0 && second > first, "pipelined answers in order: " + all);
        }
    }

    @Test
    void upgradeBecomesARawTunnel() throws Exception {
        try (ServerSocket echo = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            Thread.ofVirtual().start(() -> {
                try (Socket up = echo.accept()) {
                    InputStream in = up.getInputStream();
                    ByteArrayOutputStream head = new ByteArrayOutputStream();
                    while (!head.toString(StandardCharsets.US_ASCII).endsWith("\r\n\r\n")) {
                        head.write(in.read());
                    }
                    OutputStream out = up.getOutputStream();
                    out.write(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                            + "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
                            + "\r\n").getBytes(StandardCharsets.US_ASCII));
                    out.flush();
                    byte[] buf = new byte[1024];
                    int n;
                    while ((n = in.read(buf)) > 0) {
                        out.write(buf, 0, n);
                        out.flush();
                    }
                } catch (IOException ignored) {
                    // the test closes the tunnel
                }
            });
            table.put("ws", new SandboxRouter.Resolution.Found(
                    new InetSocketAddress("127.0.0.1", echo.getLocalPort()), null));
            try (Socket s = new Socket("127.0.0.1", proxy.port())) {
                s.setSoTimeout(10_000);
                OutputStream out = s.getOutputStream();
                out.write(("GET /ws HTTP/1.1\r\nHost: 8080-ws." + DOMAIN + "\r\nUpgrade: websocket\r\n"
                        + "Connection: Upgrade\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
                InputStream in = s.getInputStream();
                assertEquals("HTTP/1.1 101 Switching Protocols", readLine(in));
                while (!readLine(in).isEmpty()) {
                    // headers
                }
                byte[] frame = {(byte) 0x81, 0x05, 'h', 'e', 'l', 'l', 'o', 0x00, (byte) 0xff, '\r', '\n'};
                out.write(frame);
                out.flush();
                assertEquals(java.util.Arrays.toString(frame), java.util.Arrays.toString(in.readNBytes(frame.length)),
                        "bytes after the upgrade pass through untouched, both ways");
            }
        }
    }

    @Test
    void anAnswerBeforeTheEndOfTheUploadIsRelayedAndTheConnectionGoesOn() throws Exception {
        try (ServerSocket early = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            Thread.ofVirtual().start(() -> {
                try (Socket up = early.accept()) {
                    InputStream in = up.getInputStream();
                    ByteArrayOutputStream head = new ByteArrayOutputStream();
                    while (!head.toString(StandardCharsets.US_ASCII).endsWith("\r\n\r\n")) {
                        head.write(in.read());
                    }
                    // Refuse at once, without reading the body, then drain whatever still comes.
                    up.getOutputStream().write("HTTP/1.1 413 Payload Too Large\r\nContent-Length: 7\r\n\r\ntoo big"
                            .getBytes(StandardCharsets.US_ASCII));
                    up.getOutputStream().flush();
                    in.transferTo(OutputStream.nullOutputStream());
                } catch (IOException ignored) {
                    // the proxy may close it
                }
            });
            table.put("early", new SandboxRouter.Resolution.Found(
                    new InetSocketAddress("127.0.0.1", early.getLocalPort()), null));
            try (Socket s = new Socket("127.0.0.1", proxy.port())) {
                s.setSoTimeout(10_000);
                OutputStream out = s.getOutputStream();
                InputStream in = s.getInputStream();
                out.write(("POST /big HTTP/1.1\r\nHost: 8080-early." + DOMAIN + "\r\nTransfer-Encoding: chunked\r\n\r\n"
                        + "5\r\nhello\r\n").getBytes(StandardCharsets.US_ASCII));
                out.flush();
                assertEquals("HTTP/1.1 413 Payload Too Large", readLine(in));
                while (!readLine(in).isEmpty()) {
                    // headers
                }
                assertEquals("too big", new String(in.readNBytes(7), StandardCharsets.US_ASCII));
                out.write(("5\r\nworld\r\n0\r\n\r\nGET /after HTTP/1.1\r\nHost: 8080-aaa." + DOMAIN
                        + "\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
                out.flush();
                String rest = new String(in.readAllBytes(), StandardCharsets.UTF_8);
                assertTrue(rest.startsWith("HTTP/1.1 200") && rest.contains("A GET /after"), rest);
            }
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
}
