package io.sandboxd.daemon.orchestrator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.sandboxd.api.ApiServer;
import io.sandboxd.api.ApiServices;
import io.sandboxd.api.auth.SandboxTokens;
import io.sandboxd.api.auth.Team;
import io.sandboxd.api.http.Json;
import io.sandboxd.daemon.TestClock;
import io.sandboxd.daemon.runtime.FakeRuntime;
import io.sandboxd.daemon.runtime.SandboxSpec;
import io.sandboxd.daemon.store.StoreApiKeyStore;
import io.sandboxd.daemon.store.Store;
import io.sandboxd.daemon.store.TestPostgres;
import io.sandboxd.api.auth.KeyHash;
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
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@code /volumes}, the volume file API and {@code volumeMounts} over real HTTP: the daemon's API server, the
 * orchestrator over a fake runtime, a real store, volume directories in a temp dir.
 */
class VolumeApiTest {
    static final String TEMPLATE = "tpl";
    Path dataDir;
    Store store;
    FakeRuntime runtime;
    Orchestrator orchestrator;
    ApiServer server;
    HttpClient http = HttpClient.newHttpClient();
    String key;
    String otherKey;
    String base;

    @BeforeEach
    void start() throws Exception {
        // volume directories are chowned to the sandboxes' user
        assumeTrue("root".equals(System.getProperty("user.name")), "needs root (chown of volume entries)");
        dataDir = Files.createTempDirectory("sandboxd-volume-api-");
        TestClock clock = new TestClock(Instant.parse("2026-01-01T00:00:00Z"));
        store = Store.over(TestPostgres.freshDatabase());
        Team team = store.teams().ensureDefault();
        Team other = store.teams().ensure("other");
        key = store.keys().create(KeyHash.API_KEY, team, "t").plaintext();
        otherKey = store.keys().create(KeyHash.API_KEY, other, "t").plaintext();
        runtime = new FakeRuntime("jail", clock);
        SandboxTokens tokens = new SandboxTokens(new byte[32]);
        VolumeManager volumes = new VolumeManager(store.volumes(), VolumeManager.volumesDir(dataDir), tokens, clock);
        orchestrator = new Orchestrator(store, runtime, tokens, (a, i) -> { }, "sandbox.test", clock, volumes);
        orchestrator.registerTemplate(runtime.prepareTemplate(TEMPLATE, l -> { }), 1, 128);
        server = ApiServer.start(new InetSocketAddress("127.0.0.1", 0),
                ApiServices.of(orchestrator, new StoreApiKeyStore(store.keys())).withVolumes(volumes), 1);
        base = "http://127.0.0.1:" + server.port();
    }

    @AfterEach
    void stop() throws Exception {
        if (server != null) {
            server.close();
            orchestrator.close();
            runtime.close();
            store.close();
            io.sandboxd.daemon.host.DirectoryTrees.deleteRecursively(dataDir);
        }
    }

    record Answer(int status, String body, String contentType) {
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
        return send(b);
    }

    Answer content(String method, String path, String token, byte[] body, String contentType) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofByteArray(body));
        if (token != null) {
            b.header("Authorization", "Bearer " + token);
        }
        if (contentType != null) {
            b.header("Content-Type", contentType);
        }
        return send(b);
    }

    Answer send(HttpRequest.Builder b) throws Exception {
        HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
        return new Answer(r.statusCode(), r.body(), r.headers().firstValue("content-type").orElse(null));
    }

    static String q(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8);
    }

    JsonNode createVolume(String name) throws Exception {
        Answer a = api("POST", "/volumes", key, "{\"name\":\"" + name + "\"}");
        assertEquals(201, a.status(), a.body());
        return a.json();
    }

    @Test
    void createListGetDestroy() throws Exception {
        JsonNode v = createVolume("data-1");
        String id = v.get("volumeID").asText();
        assertTrue(id.matches("[a-z0-9]{20}"), id);
        assertEquals("data-1", v.get("name").asText());
        String token = v.get("token").asText();
        assertTrue(token.startsWith("vol_"), token);
        assertTrue(Files.isDirectory(dataDir.resolve("volumes").resolve(id)));

        Answer list = api("GET", "/volumes", key, null);
        assertEquals(200, list.status());
        assertEquals(1, list.json().size());
        assertEquals(id, list.json().get(0).get("volumeID").asText());
        assertFalse(list.json().get(0).has("token"), "listings carry no token");

        Answer info = api("GET", "/volumes/" + id, key, null);
        assertEquals(200, info.status());
        assertEquals(token, info.json().get("token").asText(), "getInfo hands out the same token again");
        assertFalse(store.volumes().find(id).orElseThrow().tokenHash().contains(token.substring(4)),
                "the store keeps a hash, not the token");

        assertEquals(409, api("POST", "/volumes", key, "{\"name\":\"data-1\"}").status(), "names are unique per team");
        assertEquals(201, api("POST", "/volumes", otherKey, "{\"name\":\"data-1\"}").status(),
                "another team may use the same name");
        assertEquals(404, api("GET", "/volumes/" + id, otherKey, null).status(), "another team's volume is absent");
        assertEquals(404, api("DELETE", "/volumes/" + id, otherKey, null).status());
        assertEquals(401, api("GET", "/volumes", null, null).status());

        assertEquals(204, api("DELETE", "/volumes/" + id, key, null).status());
        assertFalse(Files.exists(dataDir.resolve("volumes").resolve(id)), "the data goes with the volume");
        assertEquals(404, api("GET", "/volumes/" + id, key, null).status());
        assertEquals(404, api("DELETE", "/volumes/" + id, key, null).status(), "the SDK's destroy then returns false");
        assertEquals(404, api("GET", "/volumes/NOT-AN-ID", key, null).status());
    }

    @Test
    void badNamesAndBodiesAre400() throws Exception {
        for (String body : List.of("{\"name\":\"\"}", "{\"name\":\"a b\"}", "{\"name\":\"../x\"}", "{\"name\":\""
                + "x".repeat(65) + "\"}", "{}", "{\"name\":5}", "[]", "not json")) {
            Answer a = api("POST", "/volumes", key, body);
            assertEquals(400, a.status(), body + " -> " + a.body());
            assertTrue(a.json().get("message").asText().length() > 5, a.body());
        }
        assertEquals(0, api("GET", "/volumes", key, null).json().size(), "nothing was created");
    }

    @Test
    void fileApiNeedsTheVolumesOwnToken() throws Exception {
        JsonNode a = createVolume("a");
        JsonNode b = createVolume("b");
        String path = "/volumecontent/" + a.get("volumeID").asText() + "/path?path=/";
        assertEquals(200, content("GET", path, a.get("token").asText(), null, null).status());
        assertEquals(401, content("GET", path, null, null, null).status());
        assertEquals(401, content("GET", path, b.get("token").asText(), null, null).status(), "b's token does not open a");
        assertEquals(401, content("GET", path, "vol_" + "0".repeat(64), null, null).status());
        Answer withKey = api("GET", path, key, null);
        assertEquals(401, withKey.status(), "an API key is not a volume token");
        assertEquals(401, content("GET", "/volumecontent/zzz/path?path=/", a.get("token").asText(), null, null).status());
    }

    @Test
    void fileApiWritesReadsListsAndRemoves() throws Exception {
        JsonNode v = createVolume("files");
        String id = v.get("volumeID").asText();
        String token = v.get("token").asText();
        String c = "/volumecontent/" + id;

        Answer w = content("PUT", c + "/file?path=" + q("/docs/hello.txt"), token,
                "hello volume".getBytes(StandardCharsets.UTF_8), "application/octet-stream");
        assertEquals(201, w.status(), w.body());
        assertEquals("hello.txt", w.json().get("name").asText());
        assertEquals("/docs/hello.txt", w.json().get("path").asText());
        assertEquals("file", w.json().get("type").asText());
        assertEquals(12, w.json().get("size").asLong());
        assertEquals(0644, w.json().get("mode").asInt());
        assertEquals(1000, w.json().get("uid").asInt());
        Instant.parse(w.json().get("mtime").asText());

        Answer r = content("GET", c + "/file?path=" + q("docs/hello.txt"), token, null, null);
        assertEquals(200, r.status());
        assertEquals("hello volume", r.body());
        assertEquals("application/octet-stream", r.contentType());

        Answer mk = content("POST", c + "/dir?path=" + q("/a/b/c") + "&force=true&mode=" + 0700, token, null, null);
        assertEquals(201, mk.status(), mk.body());
        assertEquals("directory", mk.json().get("type").asText());
        assertEquals(0700, mk.json().get("mode").asInt());
        assertEquals(409, content("POST", c + "/dir?path=" + q("/a/b/c"), token, null, null).status(),
                "an existing directory without force");
        assertEquals(201, content("POST", c + "/dir?path=" + q("/a/b/c") + "&force=true", token, null, null).status());
        assertEquals(404, content("POST", c + "/dir?path=" + q("/x/y"), token, null, null).status(),
                "a missing parent without force");

        Answer list = content("GET", c + "/dir?path=/", token, null, null);
        assertEquals(200, list.status());
        assertEquals(List.of("/a", "/docs"), paths(list.json()));
        Answer deep = content("GET", c + "/dir?path=/&depth=3", token, null, null);
        assertEquals(List.of("/a", "/a/b", "/a/b/c", "/docs", "/docs/hello.txt"), paths(deep.json()));

        Answer stat = content("GET", c + "/path?path=" + q("/docs"), token, null, null);
        assertEquals("directory", stat.json().get("type").asText());
        assertEquals(404, content("GET", c + "/path?path=" + q("/nope"), token, null, null).status());
        assertEquals(404, content("GET", c + "/file?path=" + q("/nope.txt"), token, null, null).status());

        Answer patch = content("PATCH", c + "/path?path=" + q("/docs/hello.txt"), token,
                "{\"mode\":384,\"uid\":0}".getBytes(StandardCharsets.UTF_8), "application/json");
        assertEquals(200, patch.status(), patch.body());
        assertEquals(0600, patch.json().get("mode").asInt());
        assertEquals(0, patch.json().get("uid").asInt());
        assertEquals(1000, patch.json().get("gid").asInt(), "what the patch leaves out stays");

        assertEquals(204, content("DELETE", c + "/path?path=" + q("/a"), token, null, null).status());
        assertEquals(404, content("DELETE", c + "/path?path=" + q("/a"), token, null, null).status());
        assertEquals(List.of("/docs"), paths(content("GET", c + "/dir?path=/", token, null, null).json()));
    }

    @Test
    void volumeFilesMayBeLargerThanApiBodies() throws Exception {
        JsonNode v = createVolume("big");
        String c = "/volumecontent/" + v.get("volumeID").asText();
        String token = v.get("token").asText();
        byte[] big = new byte[3 << 20];
        new java.util.Random(7).nextBytes(big);
        Answer w = content("PUT", c + "/file?path=/big.bin", token, big, "application/octet-stream");
        assertEquals(201, w.status(), w.body());
        assertEquals(big.length, w.json().get("size").asLong());
        HttpResponse<byte[]> r = http.send(HttpRequest.newBuilder(URI.create(base + c + "/file?path=/big.bin"))
                .header("Authorization", "Bearer " + token).build(), HttpResponse.BodyHandlers.ofByteArray());
        assertEquals(200, r.statusCode());
        org.junit.jupiter.api.Assertions.assertArrayEquals(big, r.body());

        Answer json = api("POST", "/volumes", key, "{\"name\":\"" + "x".repeat(2 << 20) + "\"}");
        assertEquals(413, json.status(), "other API bodies keep their 1 MiB limit");
        // announced only: the answer comes before any of the body is sent
        try (java.net.Socket sock = new java.net.Socket("127.0.0.1", server.port())) {
            sock.getOutputStream().write(("PUT " + c + "/file?path=/huge.bin HTTP/1.1\r\nHost: api.test\r\n"
                    + "Authorization: Bearer " + token + "\r\nContent-Type: application/octet-stream\r\nContent-Length: "
                    + (io.sandboxd.api.http.ApiChannelInitializer.MAX_VOLUME_FILE_BYTES + 1) + "\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            String answer = new String(sock.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(answer.startsWith("HTTP/1.1 413"), answer);
            assertTrue(answer.contains("larger than"), answer);
        }
        assertFalse(Files.exists(dataDir.resolve("volumes").resolve(v.get("volumeID").asText()).resolve("huge.bin")));
    }

    @Test
    void fileApiRefusesBadInputClearly() throws Exception {
        JsonNode v = createVolume("bad");
        String c = "/volumecontent/" + v.get("volumeID").asText();
        String token = v.get("token").asText();
        Path outside = Files.createTempFile(dataDir, "outside", ".txt");
        Files.writeString(outside, "host secret");
        Path root = dataDir.resolve("volumes").resolve(v.get("volumeID").asText());
        Files.createSymbolicLink(root.resolve("escape"), outside);
        Files.createSymbolicLink(root.resolve("up"), dataDir);

        record Case(String method, String path, int status) {}
        for (Case k : List.of(new Case("GET", "/file?path=" + q("../../etc/passwd"), 400),
                new Case("GET", "/file?path=" + q("/escape"), 400),
                new Case("GET", "/file?path=" + q("/up/" + outside.getFileName()), 400),
                new Case("GET", "/dir?path=" + q("/up"), 400),
                new Case("PUT", "/file?path=" + q("/escape"), 400),
                new Case("PUT", "/file?path=" + q("/up/new.txt"), 400),
                new Case("POST", "/dir?path=" + q("/up/newdir") + "&force=true", 400),
                new Case("GET", "/file?path=/", 400),
                new Case("DELETE", "/path?path=/", 400),
                new Case("GET", "/file", 400),
                new Case("GET", "/dir?path=/&depth=0", 400),
                new Case("GET", "/dir?path=/&depth=x", 400),
                new Case("POST", "/dir?path=/d&mode=99999", 400),
                new Case("POST", "/dir?path=/d&force=maybe", 400),
                new Case("PUT", "/file?path=/a%00b", 400))) {
            Answer a = content(k.method(), c + k.path(), token, k.method().equals("PUT") ? new byte[] {1} : null,
                    k.method().equals("PUT") ? "application/octet-stream" : null);
            assertEquals(k.status(), a.status(), k + " -> " + a.body());
            assertTrue(a.json().get("message").asText().length() > 5, a.body());
        }
        assertEquals(415, content("PUT", c + "/file?path=/t.txt", token, new byte[] {1}, "text/plain").status());
        assertEquals("host secret", Files.readString(outside), "nothing outside the volume was touched");
        assertFalse(Files.exists(dataDir.resolve("new.txt")));
        assertFalse(Files.exists(dataDir.resolve("newdir")));

        Answer listed = content("GET", c + "/dir?path=/", token, null, null);
        JsonNode escape = listed.json().get(0);
        assertEquals("symlink", escape.get("type").asText(), "links are listed as links, not followed");
        assertEquals(outside.toString(), escape.get("target").asText());
        assertEquals(204, content("DELETE", c + "/path?path=/up", token, null, null).status());
        assertTrue(Files.isDirectory(dataDir), "removing a link removes the link only");
        assertTrue(Files.exists(outside));
    }

    @Test
    void volumeMountsReachTheRuntimeAndBlockDestroy() throws Exception {
        JsonNode v = createVolume("work");
        String id = v.get("volumeID").asText();
        Answer created = api("POST", "/v2/sandboxes", key, "{\"templateID\":\"" + TEMPLATE
                + "\",\"volumeMounts\":[{\"name\":\"work\",\"path\":\"/mnt/work\"}]}");
        assertEquals(201, created.status(), created.body());
        String sandbox = created.json().get("sandboxID").asText();
        SandboxSpec spec = runtime.sandbox(sandbox).spec();
        assertEquals(List.of(new SandboxSpec.BindMount(dataDir.resolve("volumes").resolve(id), "/mnt/work")), spec.mounts());

        Answer detail = api("GET", "/sandboxes/" + sandbox, key, null);
        assertEquals("[{\"name\":\"work\",\"path\":\"/mnt/work\"}]", detail.json().get("volumeMounts").toString());

        Answer refused = api("DELETE", "/volumes/" + id, key, null);
        assertEquals(409, refused.status(), refused.body());
        assertTrue(refused.json().get("message").asText().contains(sandbox), refused.body());
        assertTrue(Files.isDirectory(dataDir.resolve("volumes").resolve(id)), "a refused destroy deletes nothing");

        assertEquals(204, api("DELETE", "/sandboxes/" + sandbox, key, null).status());
        assertEquals(204, api("DELETE", "/volumes/" + id, key, null).status(), "once the sandbox is gone");
    }

    @Test
    void badMountsAreRefusedBeforeAnythingStarts() throws Exception {
        createVolume("m");
        createVolume("n");
        record Case(String mounts, int status) {}
        for (Case k : List.of(new Case("[{\"name\":\"m\",\"path\":\"mnt\"}]", 400),
                new Case("[{\"name\":\"m\",\"path\":\"/\"}]", 400),
                new Case("[{\"name\":\"m\",\"path\":\"/proc\"}]", 400),
                new Case("[{\"name\":\"m\",\"path\":\"/proc/x\"}]", 400),
                new Case("[{\"name\":\"m\",\"path\":\"/sys/fs\"}]", 400),
                new Case("[{\"name\":\"m\",\"path\":\"/dev\"}]", 400),
                new Case("[{\"name\":\"m\",\"path\":\"/etc\"}]", 400),
                new Case("[{\"name\":\"m\",\"path\":\"/etc/hosts\"}]", 400),
                new Case("[{\"name\":\"m\",\"path\":\"/opt/sandboxd/jre\"}]", 400),
                new Case("[{\"name\":\"m\",\"path\":\"/mnt/../proc\"}]", 400),
                new Case("[{\"name\":\"m\",\"path\":\"/mnt/\"}]", 400),
                new Case("[{\"name\":\"m\",\"path\":\"/mnt//x\"}]", 400),
                new Case("[{\"name\":\"m\",\"path\":\"/mnt/a\"},{\"name\":\"n\",\"path\":\"/mnt/a/b\"}]", 400),
                new Case("[{\"name\":\"m\",\"path\":\"/mnt/a\"},{\"name\":\"n\",\"path\":\"/mnt/a\"}]", 400),
                new Case("[{\"name\":\"nope\",\"path\":\"/mnt/a\"}]", 404),
                new Case("[{\"name\":\"m\"}]", 400))) {
            Answer a = api("POST", "/v2/sandboxes", key, "{\"templateID\":\"" + TEMPLATE + "\",\"volumeMounts\":"
                    + k.mounts() + "}");
            assertEquals(k.status(), a.status(), k.mounts() + " -> " + a.body());
            assertTrue(a.json().get("message").asText().length() > 5, a.body());
        }
        Answer otherTeams = api("POST", "/v2/sandboxes", otherKey, "{\"templateID\":\"" + TEMPLATE
                + "\",\"volumeMounts\":[{\"name\":\"m\",\"path\":\"/mnt/a\"}]}");
        assertEquals(404, otherTeams.status(), "another team's volume cannot be mounted");
        assertEquals(List.of(), runtime.created(), "no refused create reached the runtime");
        Answer two = api("POST", "/v2/sandboxes", key, "{\"templateID\":\"" + TEMPLATE + "\",\"volumeMounts\":"
                + "[{\"name\":\"m\",\"path\":\"/mnt/a\"},{\"name\":\"n\",\"path\":\"/mnt/ab\"}]}");
        assertEquals(201, two.status(), two.body());
        assertNotEquals(List.of(), runtime.created());
    }

    private static List<String> paths(JsonNode entries) {
        List<String> out = new java.util.ArrayList<>();
        entries.forEach(e -> out.add(e.get("path").asText()));
        return out;
    }
}
