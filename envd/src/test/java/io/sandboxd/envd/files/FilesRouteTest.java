package io.sandboxd.envd.files;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.sandboxd.envd.Envd;
import io.sandboxd.envd.EnvdState;
import io.sandboxd.envd.filesystem.TestUsers;
import io.sandboxd.envd.filesystem.UserMetadata;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Map;
import java.util.Random;
import java.util.zip.GZIPInputStream;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code /files} through a real envd on a loopback port, driven by the JDK's HTTP client. */
class FilesRouteTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static final String TOKEN = "abcdef0123456789";

    @TempDir
    Path dir;
    TestUsers users;
    Envd envd;
    HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    String base;

    @BeforeEach
    void start() throws Exception {
        users = new TestUsers(dir.resolve("users"));
        envd = Envd.start(new InetSocketAddress("127.0.0.1", 0), users.state, users.users);
        base = "http://127.0.0.1:" + envd.address().getPort();
    }

    @AfterEach
    void stop() {
        envd.close();
    }

    private String url(String query) {
        return base + "/files?" + query;
    }

    private static String q(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8);
    }

    private HttpResponse<byte[]> send(HttpRequest.Builder b) throws Exception {
        return http.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
    }

    private HttpResponse<byte[]> upload(String query, String contentType, byte[] body, String... headers)
            throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url(query))).header("Content-Type", contentType)
                .POST(HttpRequest.BodyPublishers.ofByteArray(body));
        for (int i = 0; i < headers.length; i += 2) {
            b.header(headers[i], headers[i + 1]);
        }
        return send(b);
    }

    private HttpResponse<byte[]> get(String query, String... headers) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url(query))).GET();
        for (int i = 0; i < headers.length; i += 2) {
            b.header(headers[i], headers[i + 1]);
        }
        return send(b);
    }

    private static JsonNode json(HttpResponse<byte[]> r) throws IOException {
        return JSON.readTree(r.body());
    }

    private static void assertError(int status, HttpResponse<byte[]> r) throws IOException {
        assertEquals(status, r.statusCode(), new String(r.body(), StandardCharsets.UTF_8));
        JsonNode n = json(r);
        assertEquals(status, n.get("code").asInt());
        assertFalse(n.get("message").asText().isEmpty());
    }

    @Test
    void octetStreamUploadCreatesOwnedParentsTruncatesAndAnswersWithTheEntry() throws Exception {
        Path target = dir.resolve("up/deep/a.txt");
        HttpResponse<byte[]> r = upload("path=" + q(target.toString()), "application/octet-stream",
                "a longer first version".getBytes());
        assertEquals(200, r.statusCode(), new String(r.body()));
        r = upload("path=" + q(target.toString()), "application/octet-stream", "short".getBytes());
        JsonNode entry = json(r).get(0);
        assertEquals(target.toString(), entry.get("path").asText());
        assertEquals("a.txt", entry.get("name").asText());
        assertEquals("file", entry.get("type").asText());
        assertFalse(entry.has("metadata"));
        assertEquals("short", Files.readString(target));
        assertEquals(TestUsers.TESTER_UID, TestUsers.uid(target));
        assertEquals(TestUsers.TESTER_UID, TestUsers.uid(dir.resolve("up")));
        assertEquals(0, TestUsers.uid(dir), "existing directories keep their owner");
    }

    @Test
    void relativeAndTildePathsResolveForTheUser() throws Exception {
        assertEquals(200, upload("path=rel.txt", "application/octet-stream", "r".getBytes()).statusCode());
        assertEquals(200, upload("path=" + q("~/t.txt"), "application/octet-stream", "t".getBytes()).statusCode());
        assertEquals("r", Files.readString(users.home.resolve("rel.txt")));
        assertEquals("t", Files.readString(users.home.resolve("t.txt")));
        assertEquals("t", new String(get("path=" + q("~/t.txt")).body()));
    }

    @Test
    void metadataHeadersBecomeXattrsAndReplaceThePreviousSet() throws Exception {
        Path target = dir.resolve("meta.txt");
        HttpResponse<byte[]> r = upload("path=" + q(target.toString()), "application/octet-stream", "m".getBytes(),
                "X-Metadata-Author", "alice", "x-metadata-purpose", "test run");
        assertEquals(200, r.statusCode(), new String(r.body()));
        assertEquals(Map.of("author", "alice", "purpose", "test run"),
                JSON.convertValue(json(r).get(0).get("metadata"), Map.class));
        assertEquals(Map.of("author", "alice", "purpose", "test run"), UserMetadata.read(target));
        upload("path=" + q(target.toString()), "application/octet-stream", "m2".getBytes(), "X-Metadata-Author", "bob");
        assertEquals(Map.of("author", "bob"), UserMetadata.read(target));

        assertError(400, upload("path=" + q(dir.resolve("bad1").toString()), "application/octet-stream",
                "x".getBytes(), "X-Metadata-" + "k".repeat(247), "v"));
        assertError(400, upload("path=" + q(dir.resolve("bad2").toString()), "application/octet-stream",
                "x".getBytes(), "X-Metadata-big", "v".repeat(4100)));
        assertFalse(Files.exists(dir.resolve("bad1")), "nothing is written when the metadata is refused");
    }

    @Test
    void gzipUploadsAreDecodedOtherEncodingsRefused() throws Exception {
        byte[] plain = "compressed content ".repeat(1000).getBytes();
        ByteArrayOutputStream gz = new ByteArrayOutputStream();
        try (GZIPOutputStream g = new GZIPOutputStream(gz)) {
            g.write(plain);
        }
        Path target = dir.resolve("gz.txt");
        HttpResponse<byte[]> r = upload("path=" + q(target.toString()), "application/octet-stream", gz.toByteArray(),
                "Content-Encoding", "gzip");
        assertEquals(200, r.statusCode(), new String(r.body()));
        assertArrayEquals(plain, Files.readAllBytes(target));
        assertError(400, upload("path=" + q(target.toString()), "application/octet-stream", "not gzip".getBytes(),
                "Content-Encoding", "gzip"));
        assertError(400, upload("path=" + q(target.toString()), "application/octet-stream", plain,
                "Content-Encoding", "br"));
        // the connection is still good after an error answered before the body was read
        assertEquals(200, get("path=" + q(target.toString())).statusCode());
    }

    static byte[] multipart(String boundary, String[] filenames, byte[][] bodies) {
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        for (int i = 0; i < bodies.length; i++) {
            o.writeBytes(("--" + boundary + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\""
                    + filenames[i] + "\"\r\nContent-Type: application/octet-stream\r\n\r\n").getBytes(StandardCharsets.UTF_8));
            o.writeBytes(bodies[i]);
            o.writeBytes("\r\n".getBytes());
        }
        o.writeBytes(("--" + boundary + "--\r\n").getBytes());
        return o.toByteArray();
    }

    @Test
    void multipartWritesEveryFilePartToItsFilenameAsAPath() throws Exception {
        String a = dir.resolve("mp/a.txt").toString();
        String b = dir.resolve("mp/sub/b.bin").toString();
        byte[] bin = new byte[300_000];
        new Random(1).nextBytes(bin);
        HttpResponse<byte[]> r = upload("", "multipart/form-data; boundary=XyZ",
                multipart("XyZ", new String[] {a, b}, new byte[][] {"first".getBytes(), bin}));
        assertEquals(200, r.statusCode(), new String(r.body()));
        assertEquals(2, json(r).size());
        assertEquals(a, json(r).get(0).get("path").asText());
        assertEquals("b.bin", json(r).get(1).get("name").asText());
        assertEquals("first", Files.readString(Path.of(a)));
        assertArrayEquals(bin, Files.readAllBytes(Path.of(b)));
        assertEquals(TestUsers.TESTER_UID, TestUsers.uid(Path.of(b)));

        String viaParam = dir.resolve("param.txt").toString();
        r = upload("path=" + q(viaParam), "multipart/form-data; boundary=XyZ",
                multipart("XyZ", new String[] {"ignored-name"}, new byte[][] {"p".getBytes()}));
        assertEquals(viaParam, json(r).get(0).get("path").asText());
        assertEquals("p", Files.readString(Path.of(viaParam)));
    }

    @Test
    void multipartErrors() throws Exception {
        String a = dir.resolve("dup.txt").toString();
        assertError(400, upload("", "multipart/form-data; boundary=XyZ",
                multipart("XyZ", new String[] {a, a}, new byte[][] {"1".getBytes(), "2".getBytes()})));
        assertError(400, upload("path=" + q(a), "multipart/form-data; boundary=XyZ",
                multipart("XyZ", new String[] {"x", "y"}, new byte[][] {"1".getBytes(), "2".getBytes()})));
        assertError(400, upload("", "multipart/form-data", "--XyZ--".getBytes()));
        assertError(400, upload("", "multipart/form-data; boundary=XyZ", "garbage without boundary".getBytes()));
        assertError(400, upload("", "multipart/form-data; boundary=XyZ",
                "--XyZ\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nv\r\n--XyZ--".getBytes()));
        assertError(400, upload("", "multipart/form-data; boundary=XyZ",
                multipart("XyZ", new String[] {""}, new byte[][] {"1".getBytes()})));
    }

    @Test
    void uploadRequestErrors() throws Exception {
        assertError(400, upload("", "application/octet-stream", "x".getBytes()));
        assertError(400, upload("path=/tmp/x", "text/plain", "x".getBytes()));
        Files.createDirectories(dir.resolve("adir"));
        assertError(400, upload("path=" + q(dir.resolve("adir").toString()), "application/octet-stream", "x".getBytes()));
        Files.writeString(dir.resolve("afile"), "f");
        assertError(400, upload("path=" + q(dir.resolve("afile/below.txt").toString()), "application/octet-stream",
                "x".getBytes()));
        assertError(401, upload("path=/tmp/x&username=ghost", "application/octet-stream", "x".getBytes()));
        assertError(405, send(HttpRequest.newBuilder(URI.create(url("path=/tmp/x"))).DELETE()));
    }

    @Test
    void largeUploadStreamsAndDownloadsBack() throws Exception {
        byte[] big = new byte[24 << 20];
        new Random(3).nextBytes(big);
        Path target = dir.resolve("big.bin");
        // chunked, in 64 KiB pieces: nothing tells envd the size up front
        HttpResponse<byte[]> r = send(HttpRequest.newBuilder(URI.create(url("path=" + q(target.toString()))))
                .header("Content-Type", "application/octet-stream")
                .POST(HttpRequest.BodyPublishers.ofInputStream(() -> new ByteArrayInputStream(big))));
        assertEquals(200, r.statusCode(), new String(r.body()));
        assertArrayEquals(big, Files.readAllBytes(target));
        HttpResponse<byte[]> d = get("path=" + q(target.toString()));
        assertEquals(String.valueOf(big.length), d.headers().firstValue("content-length").orElseThrow());
        assertArrayEquals(big, d.body());
    }

    @Test
    void manyLargeUploadsNeverStallOnBackpressure() throws Exception {
        // A pause and a resume racing between the event loop and the worker once left reading off for good.
        byte[] data = new byte[12 << 20];
        new Random(9).nextBytes(data);
        Path target = dir.resolve("pressure.bin");
        for (int i = 0; i < 12; i++) {
            HttpResponse<byte[]> r = http.send(HttpRequest.newBuilder(URI.create(url("path=" + q(target.toString()))))
                    .timeout(java.time.Duration.ofSeconds(60))
                    .header("Content-Type", "application/octet-stream")
                    .POST(HttpRequest.BodyPublishers.ofByteArray(data)).build(), HttpResponse.BodyHandlers.ofByteArray());
            assertEquals(200, r.statusCode(), "upload " + i);
        }
        assertArrayEquals(data, Files.readAllBytes(target));
    }

    @Test
    void downloadErrorsAndNegotiation() throws Exception {
        assertError(404, get("path=" + q(dir.resolve("missing").toString())));
        assertError(400, get("path=" + q(dir.toString())));
        assertError(401, get("path=" + q(dir.toString()) + "&username=ghost"));
        Path f = Files.writeString(dir.resolve("d.txt"), "0123456789".repeat(100));
        assertError(406, get("path=" + q(f.toString()), "Accept-Encoding", "br, identity;q=0"));

        HttpResponse<byte[]> gz = get("path=" + q(f.toString()), "Accept-Encoding", "gzip");
        assertEquals("gzip", gz.headers().firstValue("content-encoding").orElseThrow());
        try (GZIPInputStream in = new GZIPInputStream(new ByteArrayInputStream(gz.body()))) {
            assertEquals(Files.readString(f), new String(in.readAllBytes()));
        }
        byte[] random = new byte[200_000];
        new Random(5).nextBytes(random);
        Path r = Files.write(dir.resolve("random.bin"), random);
        HttpResponse<byte[]> notWorthIt = get("path=" + q(r.toString()), "Accept-Encoding", "gzip, deflate");
        assertFalse(notWorthIt.headers().firstValue("content-encoding").isPresent(),
                "incompressible data is sent as is even when gzip is acceptable");
        assertArrayEquals(random, notWorthIt.body());

        HttpResponse<byte[]> plain = get("path=" + q(f.toString()));
        assertFalse(plain.headers().firstValue("content-encoding").isPresent());
        assertEquals(Files.readString(f), new String(plain.body()));
    }

    @Test
    void rangesAndConditionalRequests() throws Exception {
        Path f = Files.writeString(dir.resolve("r.txt"), "0123456789");
        HttpResponse<byte[]> r = get("path=" + q(f.toString()), "Range", "bytes=2-4", "Accept-Encoding", "gzip");
        assertEquals(206, r.statusCode());
        assertEquals("234", new String(r.body()));
        assertEquals("bytes 2-4/10", r.headers().firstValue("content-range").orElseThrow());
        assertFalse(r.headers().firstValue("content-encoding").isPresent(), "ranges are served unencoded");
        assertEquals("789", new String(get("path=" + q(f.toString()), "Range", "bytes=-3").body()));
        assertEquals("89", new String(get("path=" + q(f.toString()), "Range", "bytes=8-").body()));
        HttpResponse<byte[]> bad = get("path=" + q(f.toString()), "Range", "bytes=20-30");
        assertEquals(416, bad.statusCode());
        assertEquals("bytes */10", bad.headers().firstValue("content-range").orElseThrow());

        HttpResponse<byte[]> full = get("path=" + q(f.toString()));
        String etag = full.headers().firstValue("etag").orElseThrow();
        String lastModified = full.headers().firstValue("last-modified").orElseThrow();
        assertEquals(304, get("path=" + q(f.toString()), "If-None-Match", etag).statusCode());
        assertEquals(304, get("path=" + q(f.toString()), "If-Modified-Since", lastModified).statusCode());
        assertEquals(200, get("path=" + q(f.toString()), "If-None-Match", "\"other\"").statusCode());
        assertEquals(412, get("path=" + q(f.toString()), "If-Match", "\"other\"").statusCode());
        assertEquals(200, get("path=" + q(f.toString()), "Range", "bytes=0-1", "If-Range", "\"stale\"").statusCode(),
                "a stale If-Range gets the whole file");
        assertEquals(206, get("path=" + q(f.toString()), "Range", "bytes=0-1", "If-Range", etag).statusCode());
    }

    @Test
    void withATokenRequestsNeedTheHeaderOrASignature() throws Exception {
        users.state.update(s -> new EnvdState.Settings(TOKEN, s.envVars(), s.defaultUser(), s.defaultWorkdir()));
        Path f = Files.writeString(dir.resolve("s.txt"), "secret");
        String path = f.toString();
        assertError(401, get("path=" + q(path)));
        assertEquals(200, get("path=" + q(path), "X-Access-Token", TOKEN).statusCode());
        assertError(401, get("path=" + q(path), "X-Access-Token", "wrong"));
        String sig = FileSignature.sign(path, FileSignature.READ, null, TOKEN, null);
        HttpResponse<byte[]> ok = get("path=" + q(path) + "&signature=" + q(sig));
        assertEquals(200, ok.statusCode());
        assertEquals("secret", new String(ok.body()));
        assertError(401, get("path=" + q(path) + "&signature=" + q(sig.replace('a', 'b') + "x")));
        long past = Instant.now().getEpochSecond() - 10;
        String expired = FileSignature.sign(path, FileSignature.READ, null, TOKEN, past);
        assertError(401, get("path=" + q(path) + "&signature=" + q(expired) + "&signature_expiration=" + past));
        long future = Instant.now().getEpochSecond() + 600;
        String write = FileSignature.sign(path, FileSignature.WRITE, "tester", TOKEN, future);
        assertEquals(200, upload("path=" + q(path) + "&username=tester&signature=" + q(write)
                + "&signature_expiration=" + future, "application/octet-stream", "new".getBytes()).statusCode());
        assertEquals("new", Files.readString(f));
        assertError(401, upload("path=" + q(path) + "&signature=" + q(sig), "application/octet-stream",
                "x".getBytes()));
    }

    @Test
    void aFullDiskIsAnswered507() throws Exception {
        Path mnt = Files.createDirectories(dir.resolve("tiny"));
        Process p = new ProcessBuilder("mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", mnt.toString())
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        Assumptions.assumeTrue(p.waitFor() == 0, "needs root to mount a tmpfs: " + out);
        try {
            HttpResponse<byte[]> r = upload("path=" + q(mnt.resolve("big").toString()), "application/octet-stream",
                    new byte[1 << 20]);
            assertError(507, r);
        } finally {
            new ProcessBuilder("umount", mnt.toString()).start().waitFor();
        }
    }

    @Test
    void healthAndAnUnknownRouteStillWork() throws Exception {
        assertTrue(send(HttpRequest.newBuilder(URI.create(base + "/health")).GET()).statusCode() < 300);
    }
}
