package io.sandboxd.daemon.template.oci;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import io.sandboxd.daemon.template.OciTemplateBuilder;
import io.sandboxd.daemon.template.TemplateBuild;
import io.sandboxd.daemon.template.TemplateStore;
import org.apache.commons.compress.archivers.tar.TarConstants;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * Pulls against a real registry (Debian's {@code docker-registry}, the CNCF distribution server) that
 * {@code skopeo} fed with images this test makes: a two-layer image with a whiteout under a multi-platform index,
 * the same image recompressed as zstd, and a private copy behind htpasswd. A Bearer-token front (a small HTTP
 * server here) checks the token flow registries like Docker Hub use. The pulled root file system must run.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class OciRegistryPullTest {
    static final String USER = "puller";
    static final String PASSWORD = "s3cret-pw";

    @TempDir
    static Path tmp;
    final List<Process> registries = new ArrayList<>();
    int open;
    int locked;
    HttpServer bearerFront;
    final AtomicInteger tokensIssued = new AtomicInteger();

    @BeforeAll
    void startRegistriesAndPushImages() throws Exception {
        for (String tool : List.of("docker-registry", "skopeo")) {
            assertTrue(run(List.of("sh", "-c", "command -v " + tool)).exitCode == 0,
                    tool + " is needed (apt-get install docker-registry skopeo; .ci/run installs them)");
        }
        open = startRegistry("open", null);
        Path htpasswd = tmp.resolve("htpasswd");
        String hash = run(List.of("python3", "-W", "ignore", "-c",
                "import crypt,sys;print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH)))", PASSWORD))
                .stdout.strip();
        Files.writeString(htpasswd, USER + ":" + hash + "\n");
        locked = startRegistry("locked", htpasswd);

        byte[] busybox = Files.readAllBytes(Path.of("/bin/busybox"));
        byte[] lower = new LayerUnpackerTest.Layer().dir("bin", 0755)
                .put(fileEntry("bin/busybox", busybox.length, 0755), busybox)
                .link("bin/sh", "busybox", TarConstants.LF_SYMLINK)
                .file("etc/os-release", "ID=sandboxd-test\n").file("etc/motd", "removed by the upper layer\n").done();
        byte[] upper = new LayerUnpackerTest.Layer().file("etc/.wh.motd", "").file("work/hello.txt", "hello\n")
                .done();
        OciLayoutWriter layout = new OciLayoutWriter(tmp.resolve("layout"));
        List<byte[]> gz = List.of(LayerUnpackerTest.gzip(lower), LayerUnpackerTest.gzip(upper));
        List<String> env = List.of("PATH=/bin", "GREETING=from-the-image");
        String gzip = "application/vnd.oci.image.layer.v1.tar+gzip";
        OciLayoutWriter.Blob amd64 = layout.image("amd64", gzip, gz, List.of(lower, upper), env, "/work", "0",
                List.of("/bin/sh"));
        OciLayoutWriter.Blob arm64 = layout.image("arm64", gzip, gz, List.of(lower, upper), env, "/work", "0",
                List.of("/bin/sh"));
        OciLayoutWriter.Blob zstd = layout.image("amd64", "application/vnd.oci.image.layer.v1.tar+zstd",
                List.of(LayerUnpackerTest.zstd(lower), LayerUnpackerTest.zstd(upper)), List.of(lower, upper), env,
                "/work", "0", List.of("/bin/sh"));
        layout.tagIndex("multi", List.of(arm64, amd64), List.of("arm64", "amd64"));
        layout.tag("single", amd64);
        layout.tag("zstd", zstd);
        layout.finish();

        String src = "oci:" + tmp.resolve("layout");
        skopeo("copy", "--all", "--dest-tls-verify=false", src + ":multi", "docker://127.0.0.1:" + open + "/test/multi:1");
        skopeo("copy", "--dest-tls-verify=false", src + ":zstd", "docker://127.0.0.1:" + open + "/test/zstd:1");
        skopeo("copy", "--dest-tls-verify=false", "--dest-creds", USER + ":" + PASSWORD, src + ":single",
                "docker://127.0.0.1:" + locked + "/private/app:1");
        bearerFront = startBearerFront();
    }

    @AfterAll
    void stop() {
        registries.forEach(Process::destroy);
        if (bearerFront != null) {
            bearerFront.stop(0);
        }
    }

    OciImagePuller puller(Map<String, RegistryClient.Credentials> creds, Path cache) {
        return new OciImagePuller(new RegistryClient(host -> Optional.ofNullable(creds.get(host))),
                new BlobCache(cache));
    }

    @Test
    void pullsTheAmd64ImageOfAnIndexAppliesItsLayersAndRunsIt() throws Exception {
        List<String> log = new ArrayList<>();
        Path rootfs = tmp.resolve("multi-rootfs");
        OciImagePuller.PulledImage image = puller(Map.of(), tmp.resolve("cache"))
                .pull("127.0.0.1:" + open + "/test/multi:1", rootfs, log::add);

        assertEquals(2, image.layers().size());
        assertEquals(2, image.layersFetched());
        assertTrue(log.getFirst().contains("manifest list"), log.toString());
        assertEquals("hello\n", Files.readString(rootfs.resolve("work/hello.txt")));
        assertFalse(Files.exists(rootfs.resolve("etc/motd")), "the upper layer's whiteout applied");
        assertEquals(List.of("PATH=/bin", "GREETING=from-the-image"), image.config().env());
        assertEquals("/work", image.config().workingDir());
        assertEquals(List.of("/bin/sh"), image.config().cmd());
        Result ran = run(List.of("chroot", rootfs.toString(), "/bin/sh", "-c", "echo $((6*7)) $(/bin/busybox cat /work/hello.txt)"));
        assertEquals("42 hello", ran.stdout.strip(), ran.stderr);

        Path again = tmp.resolve("multi-rootfs-2");
        OciImagePuller.PulledImage second = puller(Map.of(), tmp.resolve("cache"))
                .pull("127.0.0.1:" + open + "/test/multi:1", again, line -> { });
        assertEquals(0, second.layersFetched(), "every layer came from the cache");
        assertEquals(image.manifestDigest(), second.manifestDigest());
        assertEquals("hello\n", Files.readString(again.resolve("work/hello.txt")));
    }

    @Test
    void pullsZstdLayersAndPinsByDigest() throws Exception {
        Path rootfs = tmp.resolve("zstd-rootfs");
        OciImagePuller.PulledImage image = puller(Map.of(), tmp.resolve("zstd-cache"))
                .pull("127.0.0.1:" + open + "/test/zstd:1", rootfs, line -> { });
        byte[] firstLayer = Files.readAllBytes(new BlobCache(tmp.resolve("zstd-cache")).path(image.layers().getFirst()));
        assertEquals(0x28, firstLayer[0] & 0xff, "the registry holds zstd layers");
        assertEquals(0xb5, firstLayer[1] & 0xff);
        assertTrue(Files.isExecutable(rootfs.resolve("bin/busybox")));

        Path pinned = tmp.resolve("pinned-rootfs");
        OciImagePuller.PulledImage byDigest = puller(Map.of(), tmp.resolve("zstd-cache"))
                .pull("127.0.0.1:" + open + "/test/zstd@" + image.manifestDigest(), pinned, line -> { });
        assertEquals(image.manifestDigest(), byDigest.manifestDigest());
    }

    @Test
    void privateImagesNeedTheRightCredentialsAndNeverShowThem() throws Exception {
        String name = "127.0.0.1:" + locked + "/private/app:1";
        OciException anonymous = assertThrows(OciException.class,
                () -> puller(Map.of(), tmp.resolve("c1")).pull(name, tmp.resolve("p1"), line -> { }));
        assertTrue(anonymous.getMessage().contains("none are configured"), anonymous.getMessage());

        var wrong = Map.of("127.0.0.1:" + locked, new RegistryClient.Credentials(USER, "wrong-password"));
        OciException refused = assertThrows(OciException.class,
                () -> puller(wrong, tmp.resolve("c2")).pull(name, tmp.resolve("p2"), line -> { }));
        assertTrue(refused.getMessage().contains("refused the configured credentials"), refused.getMessage());
        assertFalse(refused.getMessage().contains("wrong-password"), "no password in messages");

        var right = Map.of("127.0.0.1:" + locked, new RegistryClient.Credentials(USER, PASSWORD));
        Path rootfs = tmp.resolve("p3");
        puller(right, tmp.resolve("c3")).pull(name, rootfs, line -> { });
        assertEquals("hello\n", Files.readString(rootfs.resolve("work/hello.txt")));
        assertFalse(new RegistryClient.Credentials(USER, PASSWORD).toString().contains(PASSWORD));
    }

    @Test
    void answersABearerChallengeWithATokenFromItsRealm() throws Exception {
        String front = "127.0.0.1:" + bearerFront.getAddress().getPort();
        var creds = Map.of(front, new RegistryClient.Credentials(USER, PASSWORD));
        Path rootfs = tmp.resolve("bearer-rootfs");
        puller(creds, tmp.resolve("bearer-cache")).pull(front + "/test/multi:1", rootfs, line -> { });
        assertEquals("hello\n", Files.readString(rootfs.resolve("work/hello.txt")));
        assertEquals(1, tokensIssued.get(), "one token, reused for the manifest and every blob");
    }

    @Test
    void anImageBecomesATemplateBuildWithTheSandboxUser() throws Exception {
        Path dataDir = tmp.resolve("data");
        TemplateStore store = new TemplateStore(dataDir);
        OciTemplateBuilder builder = new OciTemplateBuilder(store, puller(Map.of(), dataDir.resolve("oci")));
        List<String> log = new ArrayList<>();
        TemplateBuild build = builder.build("tpl1", "127.0.0.1:" + open + "/test/multi:1", log::add);

        assertTrue(build.buildId().matches("oci-[0-9a-f]{12}"), build.buildId());
        assertEquals("oci", build.metadata().kind());
        assertEquals(List.of("/bin/sh"), build.metadata().details().get("cmd"));
        assertEquals("/work", build.metadata().details().get("workingDir"));
        assertEquals(build, store.latest("tpl1").orElseThrow(), "the runtime finds it as the template's build");
        String passwd = Files.readString(build.rootfs().resolve("etc/passwd"));
        assertTrue(passwd.contains("user:x:1000:1000::/home/user:"), passwd);
        assertTrue(passwd.startsWith("root:x:0:0:"), "an image without accounts gets root too: " + passwd);
        assertEquals(1000, Files.getAttribute(build.rootfs().resolve("home/user"), "unix:uid"));
        assertTrue(log.stream().anyMatch(l -> l.contains("added user user")), log.toString());

        TemplateBuild again = builder.build("tpl1", "127.0.0.1:" + open + "/test/multi:1", line -> { });
        assertEquals(build.buildId(), again.buildId(), "the same image is the same build");
        assertEquals(1, store.builds("tpl1").size());

        assertThrows(OciException.class, () -> builder.build("tpl2", "127.0.0.1:" + open + "/test/nope:1", l -> { }));
        try (var left = Files.list(store.templateDir("tpl2"))) {
            assertEquals(List.of(), left.toList(), "a failed build leaves nothing");
        }
    }

    @Test
    void badNamesAndMissingImagesFailClearly() {
        OciImagePuller p = puller(Map.of(), tmp.resolve("c4"));
        OciException missing = assertThrows(OciException.class,
                () -> p.pull("127.0.0.1:" + open + "/test/multi:no-such-tag", tmp.resolve("x1"), line -> { }));
        assertTrue(missing.getMessage().contains("not in the registry"), missing.getMessage());
        assertTrue(missing.getMessage().contains("MANIFEST_UNKNOWN"), missing.getMessage());
        OciException unreachable = assertThrows(OciException.class,
                () -> p.pull("127.0.0.1:" + freePort() + "/test/multi:1", tmp.resolve("x2"), line -> { }));
        assertTrue(unreachable.getMessage().contains("unreachable"), unreachable.getMessage());
        assertThrows(OciException.class, () -> p.pull("NOT A NAME", tmp.resolve("x3"), line -> { }));
    }

    // ---- the registries -------------------------------------------------------------------------------------

    int startRegistry(String name, Path htpasswd) throws Exception {
        int port = freePort();
        Path dir = Files.createDirectories(tmp.resolve("registry-" + name));
        String config = "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: " + dir.resolve("data")
                + "\nhttp:\n  addr: 127.0.0.1:" + port + "\n"
                + (htpasswd == null ? "" : "auth:\n  htpasswd:\n    realm: sandboxd-test\n    path: " + htpasswd + "\n");
        Path file = Files.writeString(dir.resolve("config.yml"), config);
        Process p = new ProcessBuilder("docker-registry", "serve", file.toString())
                .redirectErrorStream(true).redirectOutput(dir.resolve("log").toFile()).start();
        registries.add(p);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (System.nanoTime() < deadline) {
            try (Socket s = new Socket("127.0.0.1", port)) {
                return port;
            } catch (IOException notYet) {
                Thread.sleep(50);
            }
        }
        throw new IllegalStateException("docker-registry did not listen: " + Files.readString(dir.resolve("log")));
    }

    /**
     * A registry front that wants a Bearer token (as Docker Hub does) and passes authorized requests to the open
     * registry; its realm issues the token to Basic credentials only.
     */
    HttpServer startBearerFront() throws IOException {
        HttpServer s = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        String token = "tok-" + System.nanoTime();
        String realm = "http://127.0.0.1:" + s.getAddress().getPort() + "/token";
        HttpClient client = HttpClient.newHttpClient();
        s.createContext("/token", ex -> {
            String expected = "Basic " + Base64.getEncoder().encodeToString((USER + ":" + PASSWORD)
                    .getBytes(StandardCharsets.UTF_8));
            boolean ok = expected.equals(ex.getRequestHeaders().getFirst("Authorization"))
                    && ex.getRequestURI().getRawQuery().contains("scope=repository%3Atest%2Fmulti%3Apull");
            byte[] body = ok ? ("{\"token\":\"" + token + "\"}").getBytes(StandardCharsets.UTF_8) : new byte[0];
            if (ok) {
                tokensIssued.incrementAndGet();
            }
            ex.sendResponseHeaders(ok ? 200 : 401, ok ? body.length : -1);
            ex.getResponseBody().write(body);
            ex.close();
        });
        s.createContext("/v2/", ex -> {
            if (!("Bearer " + token).equals(ex.getRequestHeaders().getFirst("Authorization"))) {
                ex.getResponseHeaders().add("WWW-Authenticate", "Bearer realm=\"" + realm
                        + "\",service=\"front\",scope=\"repository:test/multi:pull\"");
                ex.sendResponseHeaders(401, -1);
                ex.close();
                return;
            }
            try {
                HttpResponse<InputStream> r = client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + open
                                + ex.getRequestURI())).header("Accept", ex.getRequestHeaders().getFirst("Accept")).build(),
                        HttpResponse.BodyHandlers.ofInputStream());
                r.headers().firstValue("Content-Type").ifPresent(t -> ex.getResponseHeaders().add("Content-Type", t));
                byte[] body = r.body().readAllBytes();
                ex.sendResponseHeaders(r.statusCode(), body.length == 0 ? -1 : body.length);
                ex.getResponseBody().write(body);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            ex.close();
        });
        s.start();
        return s;
    }

    static org.apache.commons.compress.archivers.tar.TarArchiveEntry fileEntry(String name, long size, int mode) {
        var e = new org.apache.commons.compress.archivers.tar.TarArchiveEntry(name);
        e.setSize(size);
        e.setMode(mode);
        return e;
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    void skopeo(String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("skopeo", "--insecure-policy"));
        cmd.addAll(List.of(args));
        Result r = run(cmd);
        assertEquals(0, r.exitCode, "skopeo " + String.join(" ", args) + ": " + r.stderr + r.stdout);
    }

    record Result(int exitCode, String stdout, String stderr) {}

    static Result run(List<String> cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).start();
        var out = p.getInputStream().readAllBytes();
        var err = p.getErrorStream().readAllBytes();
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IllegalStateException(cmd + " timed out");
        }
        return new Result(p.exitValue(), new String(out, StandardCharsets.UTF_8), new String(err, StandardCharsets.UTF_8));
    }
}
