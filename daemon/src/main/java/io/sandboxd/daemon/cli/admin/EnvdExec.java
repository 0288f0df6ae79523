package io.sandboxd.daemon.cli.admin;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Runs one command in a sandbox the way the SDK's {@code commands.run} does (spec 3.5): the sandbox's envd token
 * from {@code GET /sandboxes/{id}}, then envd's {@code process.Process/Start} through the sandbox proxy with the
 * routing headers, {@code /bin/bash -l -c <command>} and stdin closed, its output streamed as it comes. The daemon
 * has no exec endpoint of its own: this is the same path an SDK user's command takes.
 */
final class EnvdExec {
    static final int ENVD_PORT = 49983;
    /** {@code timeout(1)}'s code for a command that ran out of time. */
    static final int EXIT_TIMED_OUT = 124;
    private static final Pattern SAFE_WORD = Pattern.compile("[A-Za-z0-9_@%+=:,./-]+");

    /** How the command ended. {@code exitCode} is what the CLI exits with. */
    record Result(int exitCode, boolean exited, String status, String stdout, String stderr) {}

    record Request(String sandboxId, String command, String user, String cwd, Map<String, String> envs,
                   Duration timeout) {}

    private final ApiClient api;
    private final URI sandboxUrl;

    EnvdExec(ApiClient api, URI sandboxUrl) {
        this.api = api;
        this.sandboxUrl = sandboxUrl;
    }

    /**
     * The shell command for {@code words}: one word is taken as a shell command line as it is ({@code 'ls | wc'});
     * several are quoted for bash word by word, so {@code exec ID -- echo "a b"} runs exactly that argv.
     */
    static String commandLine(List<String> words) {
        if (words.size() == 1) {
            return words.getFirst();
        }
        StringBuilder b = new StringBuilder();
        for (String w : words) {
            if (!b.isEmpty()) {
                b.append(' ');
            }
            b.append(SAFE_WORD.matcher(w).matches() ? w : "'" + w.replace("'", "'\\''") + "'");
        }
        return b.toString();
    }

    Result run(Request r, PrintWriter out, PrintWriter err) {
        JsonNode detail = api.get("/sandboxes/" + r.sandboxId()).body();
        String state = detail == null ? null : detail.path("state").asText(null);
        if ("paused".equals(state)) {
            throw new AdminException(ExitCode.REFUSED, "sandbox " + r.sandboxId()
                    + " is paused: resume it first (the SDK's Sandbox.connect)");
        }
        String token = detail == null ? null : detail.path("envdAccessToken").asText(null);

        ObjectNode body = ApiClient.JSON.createObjectNode();
        ObjectNode process = body.putObject("process");
        process.put("cmd", "/bin/bash");
        process.putArray("args").add("-l").add("-c").add(r.command());
        if (!r.envs().isEmpty()) {
            ObjectNode envs = process.putObject("envs");
            r.envs().forEach(envs::put);
        }
        if (r.cwd() != null) {
            process.put("cwd", r.cwd());
        }
        body.put("stdin", false);
        byte[] json = body.toString().getBytes(StandardCharsets.UTF_8);

        HttpRequest.Builder req = HttpRequest.newBuilder(URI.create(sandboxUrl + "/process.Process/Start"))
                .timeout(api.timeout())
                .header("Content-Type", "application/connect+json")
                .header("Connect-Protocol-Version", "1")
                .header("E2b-Sandbox-Id", r.sandboxId())
                .header("E2b-Sandbox-Port", Integer.toString(ENVD_PORT))
                .header("User-Agent", ApiClient.USER_AGENT)
                .POST(HttpRequest.BodyPublishers.ofByteArray(ConnectStream.envelope(json)));
        if (token != null) {
            req.header("X-Access-Token", token);
        }
        if (r.user() != null) {
            req.header("Authorization", "Basic " + Base64.getEncoder()
                    .encodeToString((r.user() + ":").getBytes(StandardCharsets.UTF_8)));
        }
        if (r.timeout() != null && !r.timeout().isZero()) {
            req.header("Connect-Timeout-Ms", Long.toString(r.timeout().toMillis()));
        }
        HttpRequest built = req.build();
        HttpResponse<InputStream> resp = ApiClient.exchange(api.http(), built, HttpResponse.BodyHandlers.ofInputStream(),
                "the sandbox proxy");
        try (InputStream in = resp.body()) {
            if (resp.statusCode() != 200) {
                throw httpFailure(built, resp.statusCode(), in.readAllBytes(), r.sandboxId());
            }
            return readStream(new ConnectStream(in), r, out, err);
        } catch (IOException e) {
            throw new AdminException(ExitCode.SERVER_ERROR, "reading the command's output from " + sandboxUrl + ": "
                    + e.getMessage(), e);
        }
    }

    private static Result readStream(ConnectStream stream, Request r, PrintWriter out, PrintWriter err)
            throws IOException {
        Utf8Sink stdout = new Utf8Sink(out);
        Utf8Sink stderr = new Utf8Sink(err);
        Result ended = null;
        ConnectStream.Frame f;
        while ((f = stream.next()) != null) {
            if (f.end()) {
                stdout.finish();
                stderr.finish();
                JsonNode error = f.json().path("error");
                if (!error.isMissingNode() && !error.isNull()) {
                    throw streamError(r, error.path("code").asText("unknown"), error.path("message").asText(""));
                }
                if (ended == null) {
                    throw new AdminException(ExitCode.SERVER_ERROR, "envd ended the stream without the process's end");
                }
                return new Result(ended.exitCode(), ended.exited(), ended.status(), stdout.text(), stderr.text());
            }
            JsonNode event = f.json().path("event");
            JsonNode data = event.path("data");
            if (data.isObject()) {
                if (data.hasNonNull("stdout")) {
                    stdout.write(Base64.getDecoder().decode(data.get("stdout").asText()));
                }
                if (data.hasNonNull("stderr")) {
                    stderr.write(Base64.getDecoder().decode(data.get("stderr").asText()));
                }
            }
            JsonNode end = event.path("end");
            if (end.isObject()) {
                boolean exited = end.path("exited").asBoolean(false);
                String status = end.path("status").asText("");
                int code = exited ? end.path("exitCode").asInt(0) : signalExit(status);
                ended = new Result(code, exited, status, null, null);
            }
        }
        throw new AdminException(ExitCode.SERVER_ERROR, "the stream from envd was cut before it ended"
                + (ended != null ? " (the command had ended: " + ended.status() + ")" : ""));
    }

    /** A shell's convention for a process killed by a signal: 128 + its number. */
    static int signalExit(String status) {
        String s = status.startsWith("signal: ") ? status.substring("signal: ".length()) : status;
        return 128 + switch (s) {
            case "hangup" -> 1;
            case "interrupt" -> 2;
            case "aborted" -> 6;
            case "killed" -> 9;
            case "segmentation fault" -> 11;
            case "terminated" -> 15;
            default -> 127;
        };
    }

    private static AdminException streamError(Request r, String code, String message) {
        return switch (code) {
            case "deadline_exceeded" -> new AdminException(EXIT_TIMED_OUT, "the command ran out of its time ("
                    + r.timeout().toSeconds() + " s, --timeout) and was killed");
            case "unauthenticated" -> new AdminException(ExitCode.AUTH, "envd refused: " + message
                    + (r.user() != null ? " (is there a user " + r.user() + " in the sandbox?)" : ""));
            case "not_found" -> new AdminException(ExitCode.NOT_FOUND, "envd: " + message);
            case "invalid_argument", "failed_precondition" -> new AdminException(ExitCode.REFUSED, "envd: " + message);
            case "unimplemented" -> new AdminException(ExitCode.NOT_IMPLEMENTED, "envd: " + message);
            default -> new AdminException(ExitCode.SERVER_ERROR, "envd: " + code + ": " + message);
        };
    }

    private static AdminException httpFailure(HttpRequest req, int status, byte[] bytes, String sandboxId) {
        JsonNode body = null;
        try {
            body = bytes.length == 0 ? null : ApiClient.JSON.readTree(bytes);
        } catch (IOException notJson) {
            // described by status alone
        }
        String described = ApiClient.describe(req, status, body);
        // The proxy answers 502 for a sandbox it does not know (spec 2): the SDK reads that as "sandbox gone".
        if (status == 502 && body != null && body.path("message").asText("").contains("not found")) {
            return new AdminException(ExitCode.NOT_FOUND, "the proxy does not know sandbox " + sandboxId + ": " + described);
        }
        return new ApiException(status, described);
    }
}
