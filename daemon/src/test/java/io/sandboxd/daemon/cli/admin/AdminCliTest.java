package io.sandboxd.daemon.cli.admin;

import static io.sandboxd.daemon.cli.CliRun.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.sandboxd.api.ApiServer;
import io.sandboxd.api.auth.ApiKeyStore;
import io.sandboxd.api.auth.Team;
import io.sandboxd.api.sandbox.SandboxState;
import io.sandboxd.daemon.cli.CliRun;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * The admin commands as a user runs them (the real root {@code CommandLine}, captured output) against the real
 * {@link ApiServer} over a fake orchestrator, and a small HTTP stub playing the sandbox proxy with envd behind it:
 * text and JSON output, and one exit code per kind of failure.
 */
class AdminCliTest {
    static final String KEY = "e2b_" + "0123456789abcdef".repeat(2) + "01234567";
    static final Team TEAM = new Team("00000000-0000-0000-0000-00000000000a", "default");

    @TempDir
    Path tmp;
    FakeSandboxes sandboxes;
    ApiServer api;
    HttpServer stub;
    final List<Map<String, String>> stubRequests = new CopyOnWriteArrayList<>();
    final List<String> stubBodies = new CopyOnWriteArrayList<>();
    final Map<String, String> env = new HashMap<>();

    @BeforeEach
    void start() throws Exception {
        ApiOptions.environment = env::get;
        sandboxes = new FakeSandboxes();
        ApiKeyStore keys = new ApiKeyStore() {
            @Override
            public java.util.Optional<Team> authenticateApiKey(String apiKey) {
                return apiKey.equals(KEY) ? java.util.Optional.of(TEAM) : java.util.Optional.empty();
            }

            @Override
            public java.util.Optional<Team> authenticateAccessToken(String accessToken) {
                return java.util.Optional.empty();
            }
        };
        api = ApiServer.start(new InetSocketAddress("127.0.0.1", 0), sandboxes, keys, 1);
        stub = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        stub.createContext("/", this::stubAnswer);
        stub.start();
    }

    @AfterEach
    void stop() {
        ApiOptions.environment = System::getenv;
        api.close();
        stub.stop(0);
    }

    String apiUrl() {
        return "http://127.0.0.1:" + api.port();
    }

    String stubUrl() {
        return "http://127.0.0.1:" + stub.getAddress().getPort();
    }

    /** {@code args} after the subcommand, with the API, key and a missing env file, so the host's state never counts. */
    CliRun admin(String group, String verb, String... rest) {
        List<String> a = new ArrayList<>(List.of(group, verb, "--api", apiUrl(), "--api-key", KEY,
                "--env-file", tmp.resolve("none.env").toString(), "--sandbox-url", stubUrl()));
        a.addAll(List.of(rest));
        return run(a.toArray(String[]::new));
    }

    // ---- sandbox list

    @Test
    void listPrintsATableAndJsonOfEveryPage() throws Exception {
        for (int i = 0; i < 130; i++) {
            sandboxes.add(String.format("sbx%04d", i), i % 2 == 0 ? SandboxState.RUNNING : SandboxState.PAUSED,
                    Map.of("owner", i < 3 ? "ana" : "bo"));
        }
        CliRun text = admin("sandbox", "list");
        assertEquals(0, text.exit(), text.err());
        List<String> lines = text.out().lines().toList();
        assertTrue(lines.getFirst().startsWith("SANDBOX ID"), text.out());
        assertEquals(131, lines.size(), "a header and all 130 sandboxes over two pages");
        assertTrue(lines.get(1).matches("sbx0000 +base +running +2026-12-06T10:00:00Z +2026-12-06T10:05:00Z +2 +512 +owner=ana"),
                lines.get(1));

        CliRun json = admin("sandbox", "list", "--format", "json", "--state", "paused", "--metadata", "owner=ana");
        assertEquals(0, json.exit(), json.err());
        JsonNode arr = json.json();
        assertEquals(1, arr.size(), json.out());
        assertEquals("sbx0001", arr.get(0).get("sandboxID").asText());
        assertEquals("paused", arr.get(0).get("state").asText());
    }

    @Test
    void anEmptyListSaysSo() {
        CliRun r = admin("sandbox", "list");
        assertEquals(0, r.exit());
        assertTrue(r.out().contains("(no sandboxes)"), r.out());
    }

    // ---- sandbox kill

    @Test
    void killReportsEachSandboxAndExitsWithTheFirstFailure() throws Exception {
        sandboxes.add("sbxa", SandboxState.RUNNING, Map.of());
        sandboxes.add("sbxb", SandboxState.PAUSED, Map.of());
        CliRun r = admin("sandbox", "kill", "sbxa", "nosuch", "sbxb");
        assertEquals(ExitCode.NOT_FOUND, r.exit(), r.err());
        assertEquals(List.of("sbxa", "sbxb"), sandboxes.kills, "the one missing does not stop the others");
        assertTrue(r.out().contains("killed sbxa") && r.out().contains("killed sbxb"), r.out());
        assertTrue(r.err().contains("nosuch") && r.err().contains("404"), r.err());

        sandboxes.add("sbxc", SandboxState.RUNNING, Map.of());
        CliRun j = admin("sandbox", "kill", "--format", "json", "busyone", "sbxc");
        assertEquals(ExitCode.REFUSED, j.exit(), "409: the daemon refused it in this state");
        JsonNode arr = j.json();
        assertFalse(arr.get(0).get("killed").asBoolean());
        assertEquals(409, arr.get(0).get("status").asInt());
        assertTrue(arr.get(1).get("killed").asBoolean());
    }

    // ---- sandbox logs

    @Test
    void logsPrintLinesOrJsonAndPassTheFilters() throws Exception {
        sandboxes.add("sbxa", SandboxState.RUNNING, Map.of());
        sandboxes.log("envd started");
        sandboxes.log("process 12 exited");
        CliRun r = admin("sandbox", "logs", "sbxa", "--level", "info", "--search", "exit", "--newest-first", "--limit", "5");
        assertEquals(0, r.exit(), r.err());
        assertEquals(List.of("2026-12-06T10:00:00Z  info   envd started", "2026-12-06T10:00:01Z  info   process 12 exited"),
                r.out().lines().toList());
        assertEquals("exit", sandboxes.lastLogQuery.search());
        assertEquals(5, sandboxes.lastLogQuery.limit());
        assertEquals(io.sandboxd.api.sandbox.LogQuery.Direction.BACKWARD, sandboxes.lastLogQuery.direction());

        CliRun j = admin("sandbox", "logs", "sbxa", "--format", "json");
        assertEquals("process 12 exited", j.json().get(1).get("message").asText());

        assertEquals(ExitCode.NOT_FOUND, admin("sandbox", "logs", "nosuch").exit());
        assertEquals(ExitCode.USAGE, admin("sandbox", "logs", "sbxa", "--limit", "0").exit());
    }

    // ---- sandbox exec

    @Test
    void execStreamsTheOutputAndExitsWithTheCommandsCode() throws Exception {
        sandboxes.add("sbxa", SandboxState.RUNNING, Map.of());
        CliRun r = admin("sandbox", "exec", "sbxa", "--user", "root", "--cwd", "/tmp", "-e", "A=1", "--", "echo", "a b", "$HOME");
        assertEquals(3, r.exit(), r.err());
        assertEquals("héllo\n", r.out(), "a character split over two events arrives whole");
        assertEquals("warn\n", r.err());
        Map<String, String> h = stubRequests.getLast();
        assertEquals("sbxa", h.get("e2b-sandbox-id"));
        assertEquals("49983", h.get("e2b-sandbox-port"));
        assertEquals("tok-sbxa", h.get("x-access-token"), "the envd token from GET /sandboxes/{id}");
        assertEquals("Basic " + Base64.getEncoder().encodeToString("root:".getBytes()), h.get("authorization"));
        assertEquals("60000", h.get("connect-timeout-ms"));
        assertEquals("application/connect+json", h.get("content-type"));
        JsonNode req = ApiClient.JSON.readTree(stubBodies.getLast());
        assertEquals("/bin/bash", req.at("/process/cmd").asText());
        assertEquals("-l", req.at("/process/args/0").asText());
        assertEquals("echo 'a b' '$HOME'", req.at("/process/args/2").asText(), "several words are quoted for bash");
        assertEquals("/tmp", req.at("/process/cwd").asText());
        assertEquals("1", req.at("/process/envs/A").asText());
        assertFalse(req.get("stdin").asBoolean());

        CliRun j = admin("sandbox", "exec", "sbxa", "--format", "json", "ls | wc -l");
        assertEquals(3, j.exit());
        assertEquals("ls | wc -l", ApiClient.JSON.readTree(stubBodies.getLast()).at("/process/args/2").asText(),
                "one word is a shell command line");
        assertEquals("héllo\n", j.json().get("stdout").asText());
        assertEquals("exit status 3", j.json().get("status").asText());
    }

    @Test
    void execFailuresHaveTheirOwnCodes() {
        sandboxes.add("sbxlost", SandboxState.RUNNING, Map.of());
        sandboxes.add("sbxslow", SandboxState.RUNNING, Map.of());
        sandboxes.add("sbxcut", SandboxState.RUNNING, Map.of());
        sandboxes.add("sbxkilled", SandboxState.RUNNING, Map.of());
        sandboxes.add("sbxp", SandboxState.PAUSED, Map.of());
        CliRun lost = admin("sandbox", "exec", "sbxlost", "true");
        assertEquals(ExitCode.NOT_FOUND, lost.exit(), lost.err());
        assertTrue(lost.err().contains("The sandbox was not found"), lost.err());
        CliRun slow = admin("sandbox", "exec", "sbxslow", "--timeout", "1", "sleep 9");
        assertEquals(EnvdExec.EXIT_TIMED_OUT, slow.exit(), slow.err());
        CliRun cut = admin("sandbox", "exec", "sbxcut", "true");
        assertEquals(ExitCode.SERVER_ERROR, cut.exit());
        assertTrue(cut.err().contains("cut before it ended"), cut.err());
        assertEquals(137, admin("sandbox", "exec", "sbxkilled", "true").exit(), "128 + SIGKILL");
        CliRun paused = admin("sandbox", "exec", "sbxp", "true");
        assertEquals(ExitCode.REFUSED, paused.exit());
        assertTrue(paused.err().contains("is paused"), paused.err());
        assertEquals(ExitCode.NOT_FOUND, admin("sandbox", "exec", "nosuch", "true").exit(), "GET /sandboxes/nosuch is 404");
        assertEquals(ExitCode.USAGE, admin("sandbox", "exec", "sbxa").exit(), "no command");
    }

    // ---- templates

    @Test
    void templateCommandsAgainstADaemonWithoutTemplatesAnswer501Clearly() {
        CliRun list = admin("template", "list");
        assertEquals(ExitCode.NOT_IMPLEMENTED, list.exit());
        assertTrue(list.err().contains("GET /templates answered 501") && list.err().contains("not implemented"), list.err());
        assertEquals(ExitCode.NOT_IMPLEMENTED, admin("template", "delete", "base").exit());
        CliRun build = admin("template", "build");
        assertEquals(ExitCode.NOT_IMPLEMENTED, build.exit());
        assertTrue(build.err().contains("does not build templates yet"), build.err());
    }

    @Test
    void templateCommandsAgainstADaemonWithTemplates() throws Exception {
        CliRun list = run("template", "list", "--api", stubUrl() + "/tpl", "--api-key", KEY, "--env-file", "/nonexistent");
        assertEquals(0, list.exit(), list.err());
        assertTrue(list.out().lines().skip(1).findFirst().orElseThrow()
                .matches("tpl1 +base,base:v2 +ready +2 +512 +2026-12-06T10:00:00Z"), list.out());
        CliRun json = run("template", "list", "--format", "json", "--api", stubUrl() + "/tpl", "--api-key", KEY);
        assertEquals("tpl1", json.json().get(0).get("templateID").asText());
        assertEquals(0, run("template", "delete", "tpl1", "--api", stubUrl() + "/tpl", "--api-key", KEY).exit());
        assertEquals(ExitCode.NOT_FOUND, run("template", "delete", "gone", "--api", stubUrl() + "/tpl", "--api-key", KEY).exit());
        CliRun build = run("template", "build", "--api", stubUrl() + "/tpl", "--api-key", KEY);
        assertEquals(ExitCode.NOT_IMPLEMENTED, build.exit());
        assertTrue(build.err().contains("Template.build"), build.err());
    }

    // ---- failures common to every command

    @Test
    void eachKindOfFailureHasItsExitCode() throws Exception {
        int closed;
        try (ServerSocket s = new ServerSocket(0)) {
            closed = s.getLocalPort();
        }
        CliRun down = run("sandbox", "list", "--api", "http://127.0.0.1:" + closed, "--api-key", KEY);
        assertEquals(ExitCode.UNREACHABLE, down.exit());
        assertTrue(down.err().contains("unreachable") && down.err().contains("sandboxd serve"), down.err());

        CliRun badKey = run("sandbox", "list", "--api", apiUrl(), "--api-key", "e2b_" + "f".repeat(40));
        assertEquals(ExitCode.AUTH, badKey.exit());
        assertTrue(badKey.err().contains("401"), badKey.err());

        CliRun noKey = run("sandbox", "list", "--api", apiUrl(), "--env-file", tmp.resolve("none").toString());
        assertEquals(ExitCode.AUTH, noKey.exit());
        assertTrue(noKey.err().contains("no API key"), noKey.err());

        CliRun serverError = run("sandbox", "list", "--api", stubUrl() + "/broken", "--api-key", KEY);
        assertEquals(ExitCode.SERVER_ERROR, serverError.exit());
        assertTrue(serverError.err().contains("500") && serverError.err().contains("disk on fire"), serverError.err());

        CliRun notApi = run("sandbox", "list", "--api", stubUrl() + "/html", "--api-key", KEY);
        assertEquals(ExitCode.SERVER_ERROR, notApi.exit());
        assertTrue(notApi.err().contains("not JSON"), notApi.err());

        assertEquals(ExitCode.USAGE, run("sandbox", "list", "--api", "ftp://x", "--api-key", KEY).exit());
        assertEquals(ExitCode.USAGE, run("sandbox", "list", "--format", "yaml").exit());
        assertEquals(ExitCode.USAGE, run("sandbox", "frob").exit());
    }

    @Test
    void theKeyAndUrlComeFromTheEnvironmentThenTheDaemonsEnvFile() throws Exception {
        sandboxes.add("sbxa", SandboxState.RUNNING, Map.of());
        Path envFile = tmp.resolve("sandboxd.env");
        Files.writeString(envFile, "E2B_API_URL=" + apiUrl() + "\nE2B_API_KEY=" + KEY + "\n");
        CliRun fromFile = run("sandbox", "list", "--env-file", envFile.toString());
        assertEquals(0, fromFile.exit(), fromFile.err());
        assertTrue(fromFile.out().contains("sbxa"));

        env.put("SANDBOXD_DATA_DIR", tmp.toString());
        assertEquals(0, run("sandbox", "list").exit(), "the data dir's sandboxd.env");

        env.put("E2B_API_KEY", "e2b_" + "e".repeat(40));
        assertEquals(ExitCode.AUTH, run("sandbox", "list").exit(), "the environment wins over the file");
        env.put("SANDBOXD_API_KEY", KEY);
        assertEquals(0, run("sandbox", "list").exit(), "SANDBOXD_API_KEY wins over E2B_API_KEY");
    }

    // ---- the stub: sandbox proxy + envd, and an API with template endpoints

    private void stubAnswer(HttpExchange ex) throws IOException {
        String path = ex.getRequestURI().getPath();
        Map<String, String> headers = new HashMap<>();
        ex.getRequestHeaders().forEach((k, v) -> headers.put(k.toLowerCase(), v.getFirst()));
        byte[] body = ex.getRequestBody().readAllBytes();
        try (ex) {
            if (path.startsWith("/broken")) {
                send(ex, 500, "{\"code\":500,\"message\":\"disk on fire\"}");
            } else if (path.startsWith("/html")) {
                send(ex, 200, "<html>hello</html>");
            } else if (path.startsWith("/tpl/templates")) {
                if (!KEY.equals(headers.get("x-api-key"))) {
                    send(ex, 401, "{\"code\":401,\"message\":\"Invalid API key\"}");
                } else if (ex.getRequestMethod().equals("GET")) {
                    send(ex, 200, "[{\"templateID\":\"tpl1\",\"buildID\":\"b1\",\"names\":[\"base\",\"base:v2\"],"
                            + "\"buildStatus\":\"ready\",\"cpuCount\":2,\"memoryMB\":512,\"createdAt\":\"2026-12-06T10:00:00Z\"}]");
                } else if (path.endsWith("/tpl1")) {
                    ex.sendResponseHeaders(204, -1);
                } else {
                    send(ex, 404, "{\"code\":404,\"message\":\"template not found\"}");
                }
            } else if (path.equals("/process.Process/Start")) {
                stubRequests.add(headers);
                int len = ByteBuffer.wrap(body, 1, 4).getInt();
                stubBodies.add(new String(body, 5, len, StandardCharsets.UTF_8));
                startStream(ex, headers.get("e2b-sandbox-id"));
            } else {
                send(ex, 404, "{\"code\":404,\"message\":\"no route\"}");
            }
        }
    }

    private static void startStream(HttpExchange ex, String id) throws IOException {
        if (id.equals("sbxlost")) {
            send(ex, 502, "{\"sandboxId\":\"sbxlost\",\"message\":\"The sandbox was not found\",\"code\":502}");
            return;
        }
        ex.getResponseHeaders().add("Content-Type", "application/connect+json");
        ex.sendResponseHeaders(200, 0);
        OutputStream out = ex.getResponseBody();
        frame(out, 0, "{\"event\":{\"start\":{\"pid\":42}}}");
        switch (id) {
            case "sbxslow" -> frame(out, 2, "{\"error\":{\"code\":\"deadline_exceeded\",\"message\":\"too slow\"}}");
            case "sbxcut" -> { }
            case "sbxkilled" -> {
                frame(out, 0, "{\"event\":{\"end\":{\"exitCode\":-1,\"exited\":false,\"status\":\"signal: killed\"}}}");
                frame(out, 2, "{}");
            }
            default -> {
                byte[] hello = "héllo\n".getBytes(StandardCharsets.UTF_8);
                frame(out, 0, data("stdout", java.util.Arrays.copyOfRange(hello, 0, 2)));
                frame(out, 0, "{\"event\":{\"keepalive\":{}}}");
                frame(out, 0, data("stdout", java.util.Arrays.copyOfRange(hello, 2, hello.length)));
                frame(out, 0, data("stderr", "warn\n".getBytes(StandardCharsets.UTF_8)));
                frame(out, 0, "{\"event\":{\"end\":{\"exitCode\":3,\"exited\":true,\"status\":\"exit status 3\"}}}");
                frame(out, 2, "{}");
            }
        }
    }

    private static String data(String stream, byte[] bytes) {
        return "{\"event\":{\"data\":{\"" + stream + "\":\"" + Base64.getEncoder().encodeToString(bytes) + "\"}}}";
    }

    private static void frame(OutputStream out, int flags, String json) throws IOException {
        byte[] j = json.getBytes(StandardCharsets.UTF_8);
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        b.write(flags);
        b.writeBytes(ByteBuffer.allocate(4).putInt(j.length).array());
        b.writeBytes(j);
        out.write(b.toByteArray());
        out.flush();
    }

    private static void send(HttpExchange ex, int status, String body) throws IOException {
        byte[] b = body.getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().add("Content-Type", "application/json");
        ex.sendResponseHeaders(status, b.length);
        ex.getResponseBody().write(b);
    }
}
