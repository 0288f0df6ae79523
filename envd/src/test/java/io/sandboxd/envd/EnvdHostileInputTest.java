package io.sandboxd.envd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.sandboxd.envd.files.FileSignature;
import io.sandboxd.envd.filesystem.TestUsers;
import io.sandboxd.testing.RawHttp;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URLEncoder;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The hostile-input campaign of envd (issue 14), against a real envd on a loopback port with its real services:
 * truncated and malformed Connect envelopes, wrong content types, unknown procedures, invalid messages, path
 * traversal, symlink escapes, uploads past the disk's space, bad multipart bodies, bad signatures and tokens. Each
 * case is raw request bytes with the exact HTTP status and error it must get (Connect code for RPCs, the end-stream
 * frame for streams, {@code {"code","message"}} for HTTP routes). After each case envd still answers and a file
 * made before the campaign is unchanged.
 *
 * <p>Symlinks: envd runs as root and, like upstream envd, writes and reads any path a request names. A write whose
 * path leads through a symlink must land where the request's user could write (a process of that user may have
 * planted the link), or it is 403 and nothing is written; such a write keeps an existing file's owner. Reads follow
 * links as upstream does (the caller is the sandbox's owner, who can read everything with a command anyway).
 * Runs as root (CI does): ownership is part of what it checks.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class EnvdHostileInputTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static final String TOKEN = "abcdef0123456789";
    static final String STAT = "/filesystem.Filesystem/Stat";
    static final String LIST = "/filesystem.Filesystem/ListDir";
    static final String MAKE_DIR = "/filesystem.Filesystem/MakeDir";
    static final String MOVE = "/filesystem.Filesystem/Move";
    static final String WATCH = "/filesystem.Filesystem/WatchDir";
    static final String UNARY = "application/json";
    static final String STREAM = "application/connect+json";
    static final int TINY_BYTES = 1 << 20;

    @TempDir
    static Path dir;
    TestUsers users;
    Envd envd;
    Path home;
    Path outside;
    Path sticky;
    Path tiny;
    boolean tinyMounted;
    byte[] sentinel = "made before the campaign".getBytes(StandardCharsets.UTF_8);

    @BeforeAll
    void start() throws Exception {
        Assumptions.assumeTrue("root".equals(System.getProperty("user.name")), "ownership checks need root");
        // JUnit's temporary directory is 0700: the user must be able to reach what it owns below it.
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        users = new TestUsers(dir.resolve("users"));
        home = users.home;
        chown(home, TestUsers.TESTER_UID, TestUsers.TESTER_UID);
        envd = Envd.start(new InetSocketAddress("127.0.0.1", 0), users.state, users.users);
        Files.write(home.resolve("sentinel.txt"), sentinel);

        // Outside the user's home, owned by root: what a planted link may aim at.
        outside = Files.createDirectories(dir.resolve("outside"));
        Files.writeString(outside.resolve("rootfile.txt"), "root data");
        Files.writeString(outside.resolve("rootfile2.txt"), "root data 2");
        Path secret = Files.writeString(outside.resolve("secret.txt"), "root secret");
        Files.setPosixFilePermissions(secret, PosixFilePermissions.fromString("rw-------"));
        Path mine = Files.writeString(outside.resolve("userfile.txt"), "tester's own");
        chown(mine, TestUsers.TESTER_UID, TestUsers.TESTER_UID);
        Path shared = Files.writeString(outside.resolve("groupfile.txt"), "shared with the group");
        chown(shared, 0, TestUsers.TESTER_UID);
        Files.setPosixFilePermissions(shared, PosixFilePermissions.fromString("rw-rw-r--"));
        Files.writeString(outside.resolve("plain.txt"), "plain outside");
        sticky = Files.createDirectories(dir.resolve("sticky"));
        Files.setPosixFilePermissions(sticky, PosixFilePermissions.fromString("rwxrwxrwx"));
        Files.setAttribute(sticky, "unix:mode", 01777);
        link("link-rootfile", outside.resolve("rootfile.txt"));
        link("link-rootfile2", outside.resolve("rootfile2.txt"));
        link("link-rootdir", outside);
        link("dangling", outside.resolve("ghost.txt"));
        link("link-userfile", outside.resolve("userfile.txt"));
        link("link-groupfile", outside.resolve("groupfile.txt"));
        link("link-sticky", sticky);
        link("link-secret", secret);
        link("relative-up", Path.of("../../../outside"));
        Files.createSymbolicLink(home.resolve("loop"), Path.of("loop"));
        Files.createDirectories(home.resolve("adir"));
        Files.writeString(home.resolve("afile"), "f");
        Files.writeString(home.resolve("ten.txt"), "0123456789");

        tiny = Files.createDirectories(dir.resolve("tiny"));
        Process p = new ProcessBuilder("mount", "-t", "tmpfs", "-o", "size=" + TINY_BYTES, "tmpfs", tiny.toString())
                .redirectErrorStream(true).start();
        p.getInputStream().readAllBytes();
        tinyMounted = p.waitFor() == 0;
    }

    private void link(String name, Path target) throws IOException {
        Files.createSymbolicLink(home.resolve(name), target);
    }

    private static void chown(Path p, int uid, int gid) throws IOException {
        Files.setAttribute(p, "unix:uid", uid, LinkOption.NOFOLLOW_LINKS);
        Files.setAttribute(p, "unix:gid", gid, LinkOption.NOFOLLOW_LINKS);
    }

    @AfterAll
    void stop() throws Exception {
        if (envd != null) {
            envd.close();
        }
        if (tinyMounted) {
            new ProcessBuilder("umount", tiny.toString()).start().waitFor();
        }
    }

    @AfterEach
    void nothingLostAndStillServing() throws Exception {
        users.state.update(s -> new EnvdState.Settings(null, s.envVars(), s.defaultUser(), s.defaultWorkdir()));
        try (RawHttp http = new RawHttp(envd.address().getPort())) {
            assertEquals(204, http.exchange("GET /health HTTP/1.1\r\nHost: envd\r\n\r\n").status(), "envd answers");
        }
        assertArrayEquals(sentinel, Files.readAllBytes(home.resolve("sentinel.txt")), "the sentinel is unchanged");
        assertEquals("root data", Files.readString(outside.resolve("rootfile.txt")));
        assertEquals(0, TestUsers.uid(outside.resolve("rootfile.txt")));
        assertEquals("root secret", Files.readString(outside.resolve("secret.txt")));
        assertFalse(Files.exists(outside.resolve("ghost.txt"), LinkOption.NOFOLLOW_LINKS));
    }

    // ---- the cases ---------------------------------------------------------------------------------------------

    /** How an answer must look. */
    enum Kind {
        /** HTTP route error: that status and {@code {"code": status, "message"}}. */
        HTTP,
        /** Unary Connect error: the code's HTTP status and {@code {"code": "<name>", "message"}}. */
        UNARY,
        /** Streaming Connect error: HTTP 200, the error in the end-stream frame. */
        STREAM,
        /** A success: the status only (and whatever {@code more} checks). */
        OK
    }

    /**
     * One hostile request: raw bytes (ISO-8859-1, one char per byte), the answer's kind, HTTP status and Connect
     * code, a fragment of the message, whether it needs the access token set, and further checks.
     */
    record Case(String name, String raw, Kind kind, int status, String code, String message, boolean token,
                Consumer<RawHttp.Response> more) {
        Case withToken() {
            return new Case(name, raw, kind, status, code, message, true, more);
        }

        Case and(Consumer<RawHttp.Response> check) {
            return new Case(name, raw, kind, status, code, message, token, check);
        }

        @Override
        public String toString() {
            return name;
        }
    }

    static Case http(String name, String raw, int status, String message) {
        return new Case(name, raw, Kind.HTTP, status, null, message, false, r -> { });
    }

    static Case unary(String name, String raw, int status, String code, String message) {
        return new Case(name, raw, Kind.UNARY, status, code, message, false, r -> { });
    }

    static Case stream(String name, String raw, String code, String message) {
        return new Case(name, raw, Kind.STREAM, 200, code, message, false, r -> { });
    }

    static Case ok(String name, String raw, int status) {
        return new Case(name, raw, Kind.OK, status, null, null, false, r -> { });
    }

    static String bytes(byte[] b) {
        return new String(b, StandardCharsets.ISO_8859_1);
    }


    static String post(String path, String contentType, String body, String... headers) {
        StringBuilder b = new StringBuilder("POST ").append(path).append(" HTTP/1.1\r\nHost: envd\r\n");
        if (contentType != null) {
            b.append("Content-Type: ").append(contentType).append("\r\n");
        }
        for (String h : headers) {
            b.append(h).append("\r\n");
        }
        return b.append("Content-Length: ").append(body.length()).append("\r\n\r\n").append(body).toString();
    }

    static String get(String target, String... headers) {
        StringBuilder b = new StringBuilder("GET ").append(target).append(" HTTP/1.1\r\nHost: envd\r\n");
        for (String h : headers) {
            b.append(h).append("\r\n");
        }
        return b.append("\r\n").toString();
    }

    static String envelope(int flags, String json) {
        byte[] p = json.getBytes(StandardCharsets.UTF_8);
        return bytes(ByteBuffer.allocate(5 + p.length).put((byte) flags).putInt(p.length).put(p).array());
    }

    /** An envelope around {@code payload} taken byte for byte (ISO-8859-1), for bytes that are not UTF-8. */
    static String raw(String payload) {
        return header(0, payload.length()) + payload;
    }

    static String header(int flags, long length) {
        return bytes(ByteBuffer.allocate(5).put((byte) flags).putInt((int) length).array());
    }

    static String q(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8);
    }

    static String files(String query) {
        return "/files?" + query;
    }

    static String octet(String query, String body, String... headers) {
        return post(files(query), "application/octet-stream", body, headers);
    }

    static String multipart(String query, String boundary, String body) {
        return post(files(query), "multipart/form-data; boundary=" + boundary, body);
    }

    static String part(String boundary, String filename, String content) {
        return "--" + boundary + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"" + filename
                + "\"\r\nContent-Type: application/octet-stream\r\n\r\n" + content + "\r\n";
    }

    Stream<Case> cases() {
        return Stream.of(envelopes(), contentTypes(), proceduresAndMessages(), pathsInFiles(), symlinkWrites(),
                badUploads(), fullDisk(), credentials()).flatMap(List::stream);
    }

    List<Case> envelopes() {
        String good = envelope(0, "{\"path\":\"" + home + "\"}");
        return List.of(
                stream("envelope: empty body", post(WATCH, STREAM, ""), "invalid_argument", "missing"),
                stream("envelope: 1 byte", post(WATCH, STREAM, "\u0000"), "invalid_argument", "incomplete"),
                stream("envelope: 4-byte prefix", post(WATCH, STREAM, "\u0000\u0000\u0000\u0000"), "invalid_argument",
                        "incomplete"),
                stream("envelope: length past the body", post(WATCH, STREAM, header(0, 100) + "{\"path\":1}"),
                        "invalid_argument", "incomplete"),
                stream("envelope: cut inside the message", post(WATCH, STREAM, good.substring(0, good.length() - 3)),
                        "invalid_argument", "incomplete"),
                stream("envelope: compressed flag without an encoding", post(WATCH, STREAM, "\u0001" + good.substring(1)),
                        "invalid_argument", "compressed"),
                stream("envelope: end-stream flag on a request", post(WATCH, STREAM, "\u0002" + good.substring(1)),
                        "invalid_argument", "flags"),
                stream("envelope: unknown flag 0x80", post(WATCH, STREAM, "\u0080" + good.substring(1)),
                        "invalid_argument", "flags"),
                stream("envelope: 4 GiB announced", post(WATCH, STREAM, header(0, 0xffff_ffffL)), "resource_exhausted",
                        "larger than"),
                stream("envelope: one byte over the limit", post(WATCH, STREAM, header(0, (16 << 20) + 1)),
                        "resource_exhausted", "larger than"),
                stream("envelope: two messages", post(WATCH, STREAM, good + good), "invalid_argument", "exactly one"),
                stream("envelope: trailing bytes", post(WATCH, STREAM, good + "\u0000\u0000"), "invalid_argument",
                        "incomplete"),
                stream("envelope: malformed JSON", post(WATCH, STREAM, envelope(0, "{\"path\":")), "invalid_argument",
                        "malformed"),
                stream("envelope: JSON array", post(WATCH, STREAM, envelope(0, "[]")), "invalid_argument", "cannot parse"),
                stream("envelope: JSON null", post(WATCH, STREAM, envelope(0, "null")), "invalid_argument",
                        "cannot parse"),
                stream("envelope: path is a number", post(WATCH, STREAM, envelope(0, "{\"path\":5}")),
                        "invalid_argument", "cannot parse"),
                stream("envelope: recursive is a string", post(WATCH, STREAM, envelope(0, "{\"recursive\":\"yes\"}")),
                        "invalid_argument", "cannot parse"),
                stream("envelope: invalid UTF-8", post(WATCH, STREAM, raw("{\"path\":\"\u00ff\u00fe\"}")),
                        "invalid_argument", "cannot parse"),
                stream("stream: watch a missing directory", post(WATCH, STREAM,
                        envelope(0, "{\"path\":\"" + home.resolve("nope") + "\"}")), "not_found", "not found"),
                stream("stream: watch a file", post(WATCH, STREAM,
                        envelope(0, "{\"path\":\"" + home.resolve("afile") + "\"}")), "invalid_argument", "not a directory"),
                stream("stream: watch a symlink loop", post(WATCH, STREAM,
                        envelope(0, "{\"path\":\"" + home.resolve("loop") + "\"}")), "not_found", "not found"));
    }

    List<Case> contentTypes() {
        String body = "{\"path\":\"" + home + "\"}";
        String env = envelope(0, body);
        return List.of(
                unary("content type: unary sent as a stream", post(STAT, STREAM, env), 415, "unknown", "content type"),
                unary("content type: stream sent as unary", post(WATCH, UNARY, body), 415, "unknown", "content type"),
                unary("content type: protobuf", post(STAT, "application/proto", "\n\u0001/"), 415, "unknown",
                        "content type"),
                unary("content type: streaming protobuf", post(WATCH, "application/connect+proto", env), 415, "unknown",
                        "content type"),
                unary("content type: gRPC", post(STAT, "application/grpc", env), 415, "unknown", "content type"),
                unary("content type: form", post(STAT, "application/x-www-form-urlencoded", "path=%2F"), 415, "unknown",
                        "content type"),
                unary("content type: text", post(STAT, "text/plain", body), 415, "unknown", "content type"),
                unary("content type: none", post(STAT, null, body), 415, "unknown", "content type"),
                unary("content type: garbage", post(STAT, ";;", body), 415, "unknown", "content type")
                        .and(r -> assertEquals(UNARY, r.header("Accept-Post"))));
    }

    List<Case> proceduresAndMessages() {
        String user = Base64.getEncoder().encodeToString("nobody:".getBytes(StandardCharsets.UTF_8));
        return List.of(
                unary("procedure: unknown method", post("/filesystem.Filesystem/Format", UNARY, "{}"), 404,
                        "unimplemented", "not implemented"),
                unary("procedure: unknown service", post("/nope.Service/Stat", UNARY, "{}"), 404, "unimplemented",
                        "not implemented"),
                unary("procedure: wrong case", post("/Filesystem.filesystem/Stat", UNARY, "{}"), 404, "unimplemented",
                        "not implemented"),
                unary("procedure: GET", get(STAT), 405, "unimplemented", "POST")
                        .and(r -> assertEquals("POST", r.header("Allow"))),
                http("procedure: extra path segment", post(STAT + "/more", UNARY, "{}"), 404, "no route"),
                unary("message: malformed JSON", post(STAT, UNARY, "{not json"), 400, "invalid_argument", "malformed"),
                unary("message: JSON array", post(STAT, UNARY, "[]"), 400, "invalid_argument", "cannot parse"),
                unary("message: path is a number", post(STAT, UNARY, "{\"path\":5}"), 400, "invalid_argument",
                        "cannot parse"),
                unary("message: path is an object", post(STAT, UNARY, "{\"path\":{}}"), 400, "invalid_argument",
                        "cannot parse"),
                unary("message: depth is negative", post(LIST, UNARY, "{\"path\":\"/\",\"depth\":-1}"), 400,
                        "invalid_argument", "cannot parse"),
                unary("message: trailing garbage", post(STAT, UNARY, "{} {}"), 400, "invalid_argument", "malformed"),
                unary("message: 17 MiB", post(STAT, UNARY, "{\"path\":\"" + "x".repeat(17 << 20) + "\"}"), 429,
                        "resource_exhausted", "larger than"),
                unary("message: NUL in the path", post(STAT, UNARY, "{\"path\":\"a\\u0000b\"}"), 400,
                        "invalid_argument", "NUL"),
                unary("message: another user's home", post(STAT, UNARY, "{\"path\":\"~root/x\"}"), 400,
                        "invalid_argument", "~root"),
                unary("fs: stat a missing file", post(STAT, UNARY, "{\"path\":\"" + home.resolve("missing") + "\"}"),
                        404, "not_found", "no such file"),
                ok("fs: stat of a symlink loop describes the link", post(STAT, UNARY, "{\"path\":\""
                        + home.resolve("loop") + "\"}"), 200)
                        .and(r -> assertEquals("FILE_TYPE_SYMLINK", r.json().at("/entry/type").asText())),
                unary("fs: list through a symlink loop", post(LIST, UNARY, "{\"path\":\"" + home.resolve("loop")
                        + "\"}"), 400, "failed_precondition", "cyclic"),
                unary("fs: list a file", post(LIST, UNARY, "{\"path\":\"" + home.resolve("afile") + "\"}"), 400,
                        "invalid_argument", "not a directory"),
                unary("fs: make an existing directory", post(MAKE_DIR, UNARY, "{\"path\":\"" + home.resolve("adir")
                        + "\"}"), 409, "already_exists", "already exists"),
                unary("fs: make a directory below a file", post(MAKE_DIR, UNARY, "{\"path\":\""
                        + home.resolve("afile/sub") + "\"}"), 400, "invalid_argument", "not a directory"),
                unary("fs: move a missing file", post(MOVE, UNARY, "{\"source\":\"" + home.resolve("missing")
                        + "\",\"destination\":\"" + home.resolve("x") + "\"}"), 404, "not_found", "not found"),
                unary("header: Connect-Timeout-Ms not a number", post(STAT, UNARY, "{}", "Connect-Timeout-Ms: abc"), 400,
                        "invalid_argument", "Connect-Timeout-Ms"),
                unary("header: Connect-Timeout-Ms negative", post(STAT, UNARY, "{}", "Connect-Timeout-Ms: -5"), 400,
                        "invalid_argument", "Connect-Timeout-Ms"),
                unary("header: Connect-Timeout-Ms 11 digits", post(STAT, UNARY, "{}",
                        "Connect-Timeout-Ms: 12345678901"), 400, "invalid_argument", "Connect-Timeout-Ms"),
                unary("header: unknown user", post(STAT, UNARY, "{}", "Authorization: Basic " + user), 401,
                        "unauthenticated", "nobody"),
                unary("header: Bearer instead of Basic", post(STAT, UNARY, "{}", "Authorization: Bearer x"), 401,
                        "unauthenticated", "Basic"),
                unary("header: Basic that is not base64", post(STAT, UNARY, "{}", "Authorization: Basic !!!"), 401,
                        "unauthenticated", "base64"),
                stream("header: unknown user on a stream", post(WATCH, STREAM, envelope(0, "{}"),
                        "Authorization: Basic " + user), "unauthenticated", "nobody"),
                http("http: unknown route", get("/nope"), 404, "no route"),
                http("http: 10 KiB header", get("/health", "X-Big: " + "b".repeat(10 << 10)), 431, "header"),
                http("http: 5000-byte request line", get("/files?path=" + "a".repeat(5000)), 414, "line"),
                http("http: malformed request line", "GARBAGE\r\n\r\n", 400, "malformed"));
    }

    List<Case> pathsInFiles() {
        String rel = home.relativize(outside.resolve("plain.txt")).toString();
        return List.of(
                ok("path: relative traversal resolves lexically", get(files("path=" + q(rel))), 200)
                        .and(r -> assertEquals("plain outside", r.text())),
                ok("path: encoded traversal is the same path", get(files("path=" + rel.replace(".", "%2e")
                        .replace("/", "%2f"))), 200).and(r -> assertEquals("plain outside", r.text())),
                ok("path: absolute wins over the home", get(files("path=" + q(outside.resolve("plain.txt").toString()))),
                        200).and(r -> assertEquals("plain outside", r.text())),
                ok("path: .. above the root stays at the root", get(files("path=" + q("/../../../../" + outside
                        + "/plain.txt"))), 200).and(r -> assertEquals("plain outside", r.text())),
                http("path: NUL", get(files("path=" + q(home + "/sentinel.txt") + "%00.png")), 400, "NUL"),
                http("path: NUL in an upload", octet("path=a%00b", "x"), 400, "NUL"),
                http("path: missing parameter is the home directory", get(files("")), 400, "directory"),
                http("path: a directory", get(files("path=" + q(home.resolve("adir").toString()))), 400, "directory"),
                http("path: missing file", get(files("path=" + q(home.resolve("missing").toString()))), 404,
                        "does not exist"),
                http("path: another user's home", get(files("path=" + q("~root/.bashrc"))), 400, "~root"),
                http("path: another user's home in an upload", octet("path=" + q("~root/x"), "x"), 400, "~root")
                        .and(r -> assertFalse(Files.exists(home.resolve("~root")))),
                http("path: download through a symlink loop", get(files("path=" + q(home.resolve("loop").toString()))),
                        400, "cyclic"),
                ok("path: download through a symlink to a root-only file", get(files("path="
                        + q(home.resolve("link-secret").toString()))), 200)
                        .and(r -> assertEquals("root secret", r.text())),
                http("path: unknown user", get(files("path=x&username=ghost")), 401, "ghost"),
                http("path: range past the end", get(files("path=" + q(home.resolve("ten.txt").toString())),
                        "Range: bytes=20-30"), 416, "range")
                        .and(r -> assertEquals("bytes */10", r.header("Content-Range"))),
                ok("path: unparsable range is ignored", get(files("path=" + q(home.resolve("ten.txt").toString())),
                        "Range: bytes=abc"), 200).and(r -> assertEquals("0123456789", r.text())),
                http("path: no acceptable encoding", get(files("path=" + q(home.resolve("ten.txt").toString())),
                        "Accept-Encoding: br, identity;q=0"), 406, "encoding"),
                http("files: DELETE", "DELETE /files?path=x HTTP/1.1\r\nHost: envd\r\n\r\n", 405, "not allowed"));
    }

    List<Case> symlinkWrites() {
        return List.of(
                http("symlink: write to a root file through a link", octet("path=" + q("~/link-rootfile"), "pwned"),
                        403, "symbolic link"),
                http("symlink: new file in a root directory through a link", octet("path="
                        + q("~/link-rootdir/new.txt"), "pwned"), 403, "symbolic link")
                        .and(r -> assertFalse(Files.exists(outside.resolve("new.txt")))),
                http("symlink: new directories in a root directory through a link", octet("path="
                        + q("~/link-rootdir/a/b/new.txt"), "pwned"), 403, "symbolic link")
                        .and(r -> assertFalse(Files.exists(outside.resolve("a")))),
                http("symlink: relative link up and out", octet("path=" + q("~/relative-up/new.txt"), "pwned"), 403,
                        "symbolic link").and(r -> assertFalse(Files.exists(outside.resolve("new.txt")))),
                http("symlink: dangling link into a root directory", octet("path=" + q("~/dangling"), "pwned"), 403,
                        "symbolic link"),
                http("symlink: multipart part through a link", multipart("", "B", part("B", "~/link-rootfile", "pwned")
                        + "--B--\r\n"), 403, "symbolic link"),
                http("symlink: write through a symlink loop", octet("path=" + q("~/loop"), "x"), 400, "cyclic"),
                ok("symlink: to a file the user owns", octet("path=" + q("~/link-userfile"), "rewritten"), 200)
                        .and(r -> assertFile(outside.resolve("userfile.txt"), "rewritten", TestUsers.TESTER_UID)),
                ok("symlink: to a group-writable file keeps its owner", octet("path=" + q("~/link-groupfile"), "group"),
                        200).and(r -> assertFile(outside.resolve("groupfile.txt"), "group", 0)),
                ok("symlink: into a sticky world-writable directory", octet("path=" + q("~/link-sticky/n.txt"), "t"),
                        200).and(r -> assertFile(sticky.resolve("n.txt"), "t", TestUsers.TESTER_UID)),
                ok("symlink: root may write through any link", octet("path=" + q(home.resolve("link-rootfile2").toString())
                        + "&username=root",
                        "by root"), 200).and(r -> assertFile(outside.resolve("rootfile2.txt"), "by root", 0)));
    }

    static void assertFile(Path p, String content, int owner) {
        try {
            assertEquals(content, Files.readString(p));
            assertEquals(owner, TestUsers.uid(p), "owner of " + p);
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    List<Case> badUploads() {
        String dup = home.resolve("dup.txt").toString();
        String ok = home.resolve("mp.txt").toString();
        String gz = home.resolve("gz.txt").toString();
        String meta = home.resolve("meta.txt").toString();
        String cut = home.resolve("cut.txt").toString();
        return List.of(
                http("upload: text/plain", post(files("path=" + q(ok)), "text/plain", "x"), 400, "content type"),
                http("upload: no content type", post(files("path=" + q(ok)), null, "x"), 400, "content type"),
                http("upload: octet-stream without a path", octet("", "x"), 400, "path"),
                http("upload: gzip that is not gzip", octet("path=" + q(ok), "not gzip", "Content-Encoding: gzip"), 400,
                        "gzip"),
                http("upload: truncated gzip", octet("path=" + q(gz), bytes(Arrays.copyOf(gzip("some content"), 12)),
                        "Content-Encoding: gzip"), 400, "gzip").and(r -> assertFalse(Files.exists(Path.of(gz)),
                        "no partial file is left")),
                http("upload: unknown encoding", octet("path=" + q(ok), "x", "Content-Encoding: br"), 400, "br"),
                http("upload: to a directory", octet("path=" + q(home.resolve("adir").toString()), "x"), 400,
                        "directory"),
                http("upload: below a file", octet("path=" + q(home.resolve("afile/below").toString()), "x"), 400,
                        "not a directory"),
                http("upload: metadata key too long", octet("path=" + q(meta), "x", "X-Metadata-" + "k".repeat(247)
                        + ": v"), 400, "X-Metadata").and(r -> assertFalse(Files.exists(Path.of(meta)))),
                http("upload: metadata too large", octet("path=" + q(ok), "x", "X-Metadata-big: " + "v".repeat(4100)),
                        400, "X-Metadata"),
                http("upload: metadata not printable", octet("path=" + q(ok), "x", "X-Metadata-k: caf\u00e9"), 400,
                        "X-Metadata"),
                http("multipart: no boundary", post(files(""), "multipart/form-data", "--x--"), 400, "boundary"),
                http("multipart: boundary too long", multipart("", "b".repeat(71), "--x--"), 400, "boundary"),
                http("multipart: garbage body", multipart("", "B", "not a multipart body at all"), 400, "multipart"),
                http("multipart: no part named file", multipart("", "B",
                        "--B\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nv\r\n--B--\r\n"), 400, "file"),
                http("multipart: part without a filename or path", multipart("", "B", part("B", "", "x") + "--B--\r\n"),
                        400, "filename"),
                http("multipart: two parts to one path", multipart("", "B", part("B", dup, "1") + part("B", dup, "2")
                        + "--B--\r\n"), 400, "same path"),
                http("multipart: body ends inside the part headers", multipart("", "B",
                        "--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"" + cut + "\""), 400,
                        "multipart").and(r -> assertFalse(Files.exists(Path.of(cut)))),
                http("multipart: part cut before its delimiter", multipart("", "B", "--B\r\nContent-Disposition: "
                        + "form-data; name=\"file\"; filename=\"" + cut + "\"\r\n\r\nhalf of the data"), 400,
                        "multipart").and(r -> assertFalse(Files.exists(Path.of(cut)), "no partial file is left")),
                http("multipart: part headers past 16 KiB", multipart("", "B", "--B\r\nX-Pad: " + "p".repeat(20 << 10)
                        + "\r\n\r\nx\r\n--B--\r\n"), 400, "multipart"));
    }

    static byte[] gzip(String s) {
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        try (var g = new java.util.zip.GZIPOutputStream(o)) {
            g.write(s.getBytes(StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new AssertionError(e);
        }
        return o.toByteArray();
    }

    List<Case> fullDisk() {
        String two = "d".repeat(2 << 20);
        Path fresh = tiny.resolve("fresh.bin");
        Path existing = tiny.resolve("existing.txt");
        Path first = tiny.resolve("first.txt");
        Path second = tiny.resolve("second.bin");
        return List.of(
                http("disk full: new file", octet("path=" + q(fresh.toString()), two), 507, "disk space")
                        .and(r -> assertFalse(Files.exists(fresh), "no partial file is left")),
                http("disk full: over an existing file", octet("path=" + q(existing.toString()), two), 507, "disk space")
                        .and(r -> assertFile(existing, "", TestUsers.TESTER_UID)),
                http("disk full: gzip that inflates past the disk", octet("path=" + q(fresh.toString()),
                        bytes(gzipZeros(3 << 20)), "Content-Encoding: gzip"), 507, "disk space")
                        .and(r -> assertFalse(Files.exists(fresh), "no partial file is left")),
                http("disk full: second part of a multipart upload", multipart("", "B", part("B", first.toString(),
                        "fits") + part("B", second.toString(), two) + "--B--\r\n"), 507, "disk space")
                        .and(r -> {
                            assertFile(first, "fits", TestUsers.TESTER_UID);
                            assertFalse(Files.exists(second), "no partial file is left");
                        }));
    }

    static byte[] gzipZeros(int n) {
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        try (var g = new java.util.zip.GZIPOutputStream(o)) {
            g.write(new byte[n]);
        } catch (IOException e) {
            throw new AssertionError(e);
        }
        return o.toByteArray();
    }

    List<Case> credentials() {
        Path f = home.resolve("ten.txt");
        String path = f.toString();
        long past = Instant.now().getEpochSecond() - 60;
        long future = Instant.now().getEpochSecond() + 3600;
        String read = FileSignature.sign(path, FileSignature.READ, null, TOKEN, null);
        String expired = FileSignature.sign(path, FileSignature.READ, null, TOKEN, past);
        String forUser = FileSignature.sign(path, FileSignature.READ, "root", TOKEN, null);
        String other = FileSignature.sign(home.resolve("sentinel.txt").toString(), FileSignature.READ, null, TOKEN,
                null);
        String unauthorized = "unauthorized access";
        return List.of(
                unary("token: RPC without it", post(STAT, UNARY, "{}"), 401, null, unauthorized).withToken(),
                unary("token: RPC with a wrong one", post(STAT, UNARY, "{}", "X-Access-Token: wrong"), 401, null,
                        unauthorized).withToken(),
                unary("token: RPC with an empty one", post(STAT, UNARY, "{}", "X-Access-Token:"), 401, null,
                        unauthorized).withToken(),
                http("token: HTTP route without it", get("/envs"), 401, unauthorized).withToken(),
                http("token: download without token or signature", get(files("path=" + q(path))), 401, "signature")
                        .withToken(),
                http("token: download with a wrong token", get(files("path=" + q(path)), "X-Access-Token: wrong"), 401,
                        "does not match").withToken(),
                http("signature: not ours", get(files("path=" + q(path) + "&signature=v1_AAAA")), 401, "invalid")
                        .withToken(),
                http("signature: expired", get(files("path=" + q(path) + "&signature=" + q(expired)
                        + "&signature_expiration=" + past)), 401, "expired").withToken(),
                http("signature: expiration dropped", get(files("path=" + q(path) + "&signature=" + q(expired))), 401,
                        "invalid").withToken(),
                http("signature: expiration moved", get(files("path=" + q(path) + "&signature=" + q(expired)
                        + "&signature_expiration=" + future)), 401, "invalid").withToken(),
                http("signature: expiration not a number", get(files("path=" + q(path) + "&signature=" + q(read)
                        + "&signature_expiration=soon")), 401, "signature_expiration").withToken(),
                http("signature: a read signature used to write", octet("path=" + q(path) + "&signature=" + q(read), "w"),
                        401, "invalid").withToken().and(r -> assertFile(f, "0123456789", 0)),
                http("signature: for another path", get(files("path=" + q(path) + "&signature=" + q(other))), 401,
                        "invalid").withToken(),
                http("signature: for another user", get(files("path=" + q(path) + "&signature=" + q(forUser))), 401,
                        "invalid").withToken(),
                http("signature: path spelled differently", get(files("path=" + q(home + "/./ten.txt") + "&signature="
                        + q(read))), 401, "invalid").withToken());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void campaign(Case c) throws Exception {
        if (c.name().startsWith("disk full")) {
            Assumptions.assumeTrue(tinyMounted, "needs root to mount a 1 MiB tmpfs");
            Files.writeString(tiny.resolve("existing.txt"), "old content");
            chown(tiny.resolve("existing.txt"), TestUsers.TESTER_UID, TestUsers.TESTER_UID);
        }
        if (c.token()) {
            users.state.update(s -> new EnvdState.Settings(TOKEN, s.envVars(), s.defaultUser(), s.defaultWorkdir()));
        }
        try (RawHttp http = new RawHttp(envd.address().getPort())) {
            http.setTimeoutMillis(20_000);
            Thread sender = Thread.ofVirtual().start(() -> {
                try {
                    http.send(c.raw());
                } catch (IOException refusedMidway) {
                    // the answer is read below
                }
            });
            RawHttp.Response r = http.read();
            sender.join();
            check(c, r);
            c.more().accept(r);
        }
    }

    private static void check(Case c, RawHttp.Response r) throws IOException {
        switch (c.kind()) {
            case HTTP -> {
                JsonNode body = r.assertJsonError(c.status());
                assertMessage(c, body, r);
            }
            case UNARY -> {
                assertEquals(c.status(), r.status(), r::toString);
                assertEquals("application/json", r.header("content-type"), r::toString);
                JsonNode body = r.json();
                if (c.code() == null) {
                    assertEquals(c.status(), body.path("code").asInt(), r::toString); // envd's plain 401
                } else {
                    assertEquals(c.code(), body.path("code").asText(), r::toString);
                }
                assertMessage(c, body, r);
            }
            case STREAM -> {
                assertEquals(200, r.status(), r::toString);
                assertEquals("application/connect+json", r.header("content-type"), r::toString);
                ByteBuffer b = ByteBuffer.wrap(r.body());
                JsonNode last = null;
                int flags = -1;
                while (b.hasRemaining()) {
                    flags = b.get() & 0xff;
                    byte[] payload = new byte[b.getInt()];
                    b.get(payload);
                    last = JSON.readTree(payload);
                }
                assertEquals(0x02, flags, () -> "ends with the end-stream frame: " + r);
                assertEquals(c.code(), last.at("/error/code").asText(), r::toString);
                assertMessage(c, last.get("error"), r);
            }
            case OK -> assertEquals(c.status(), r.status(), r::toString);
        }
    }

    private static void assertMessage(Case c, JsonNode body, RawHttp.Response r) {
        if (c.message() != null) {
            String m = body.path("message").asText();
            assertTrue(m.toLowerCase(java.util.Locale.ROOT).contains(c.message().toLowerCase(java.util.Locale.ROOT)),
                    () -> "message of " + c + " mentions '" + c.message() + "': " + r.text());
        }
    }
}
