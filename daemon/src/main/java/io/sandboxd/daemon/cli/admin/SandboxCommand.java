package io.sandboxd.daemon.cli.admin;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.PrintWriter;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.StringJoiner;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code sandboxd sandbox list|kill|logs|exec}: the running daemon's sandboxes, through its E2B API. */
@Command(name = "sandbox", mixinStandardHelpOptions = true,
        description = "Sandboxes of the running daemon (through its API): list, kill, logs, exec.",
        subcommands = {SandboxCommand.ListSandboxes.class, SandboxCommand.Kill.class, SandboxCommand.Logs.class,
                SandboxCommand.Exec.class})
public final class SandboxCommand implements Runnable {
    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    static String enc(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8);
    }

    static String text(JsonNode n, String field) {
        JsonNode v = n.get(field);
        return v == null || v.isNull() ? "-" : v.asText();
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "List running and paused sandboxes.")
    static final class ListSandboxes extends AdminCall {

        @Option(names = "--state", paramLabel = "running,paused", description = "Only these states. Default: both.")
        String state;

        @Option(names = "--metadata", paramLabel = "KEY=VALUE", description = "Only sandboxes with this metadata (repeatable).")
        Map<String, String> metadata = new LinkedHashMap<>();

        @Override
        public Integer call() {
            ApiClient client = api.client();
            ArrayNode all = ApiClient.JSON.createArrayNode();
            String next = null;
            // Every page: the v2 list pages by 100 and says when there is more in X-Next-Token.
            do {
                StringBuilder q = new StringBuilder("/v2/sandboxes?limit=100");
                if (state != null) {
                    q.append("&state=").append(enc(state));
                }
                if (!metadata.isEmpty()) {
                    StringJoiner pairs = new StringJoiner("&");
                    metadata.forEach((k, v) -> pairs.add(enc(k) + "=" + enc(v)));
                    q.append("&metadata=").append(enc(pairs.toString()));
                }
                if (next != null) {
                    q.append("&nextToken=").append(enc(next));
                }
                ApiClient.Answer a = client.get(q.toString());
                if (a.body() == null || !a.body().isArray()) {
                    throw new AdminException(ExitCode.SERVER_ERROR, "GET /v2/sandboxes did not answer a JSON array");
                }
                a.body().forEach(all::add);
                next = a.header("X-Next-Token").filter(t -> !t.isBlank()).orElse(null);
            } while (next != null);

            PrintWriter out = spec.commandLine().getOut();
            if (format.json()) {
                out.println(ApiClient.pretty(all));
            } else {
                String row = "%-22s  %-14s  %-8s  %-24s  %-24s  %3s  %7s  %s%n";
                out.printf(row, "SANDBOX ID", "TEMPLATE", "STATE", "STARTED", "ENDS", "CPU", "MEM MB", "METADATA");
                for (JsonNode s : all) {
                    StringJoiner md = new StringJoiner(",");
                    s.path("metadata").properties().forEach(e -> md.add(e.getKey() + "=" + e.getValue().asText()));
                    out.printf(row, text(s, "sandboxID"), s.hasNonNull("alias") ? text(s, "alias") : text(s, "templateID"),
                            text(s, "state"), text(s, "startedAt"), text(s, "endAt"), text(s, "cpuCount"),
                            text(s, "memoryMB"), md.length() == 0 ? "-" : md.toString());
                }
                if (all.isEmpty()) {
                    out.println("(no sandboxes)");
                }
            }
            out.flush();
            return ExitCode.OK;
        }
    }

    @Command(name = "kill", mixinStandardHelpOptions = true, description = "Kill sandboxes (running or paused).")
    static final class Kill extends AdminCall {

        @Parameters(paramLabel = "SANDBOX_ID", arity = "1..*", description = "The sandboxes to kill.")
        List<String> ids = new ArrayList<>();

        @Override
        public Integer call() {
            ApiClient client = api.client();
            PrintWriter out = spec.commandLine().getOut();
            PrintWriter err = spec.commandLine().getErr();
            ArrayNode results = ApiClient.JSON.createArrayNode();
            int exit = ExitCode.OK;
            for (String id : ids) {
                ObjectNode r = results.addObject().put("sandboxID", id);
                try {
                    client.delete("/sandboxes/" + enc(id));
                    r.put("killed", true);
                    if (!format.json()) {
                        out.println("killed " + id);
                    }
                } catch (ApiException e) {
                    // Unreachable and auth failures end the command; a per-sandbox refusal is reported and the rest go on.
                    if (e.exitCode() == ExitCode.AUTH) {
                        throw e;
                    }
                    r.put("killed", false).put("status", e.status()).put("error", e.getMessage());
                    if (!format.json()) {
                        err.println("sandboxd sandbox kill: " + id + ": " + e.getMessage());
                    }
                    exit = exit == ExitCode.OK ? e.exitCode() : exit;
                }
            }
            if (format.json()) {
                out.println(ApiClient.pretty(results));
            }
            out.flush();
            err.flush();
            return exit;
        }
    }

    @Command(name = "logs", mixinStandardHelpOptions = true, description = "Print a sandbox's logs (its envd's).")
    static final class Logs extends AdminCall {

        @Parameters(index = "0", paramLabel = "SANDBOX_ID")
        String id;

        @Option(names = "--limit", defaultValue = "1000", description = "At most this many entries (1..1000). Default: ${DEFAULT-VALUE}.")
        int limit;

        @Option(names = "--level", paramLabel = "debug|info|warn|error", description = "Only entries at this level.")
        String level;

        @Option(names = "--search", description = "Only entries whose message contains this.")
        String search;

        @Option(names = "--newest-first", description = "Newest entries first.")
        boolean newestFirst;

        @Override
        public Integer call() {
            if (limit < 1 || limit > 1000) {
                throw new AdminException(ExitCode.USAGE, "--limit must be between 1 and 1000");
            }
            StringBuilder q = new StringBuilder("/v2/sandboxes/" + enc(id) + "/logs?limit=" + limit
                    + "&direction=" + (newestFirst ? "backward" : "forward"));
            if (level != null) {
                q.append("&level=").append(enc(level));
            }
            if (search != null) {
                q.append("&search=").append(enc(search));
            }
            JsonNode body = api.client().get(q.toString()).body();
            JsonNode logs = body == null ? null : body.get("logs");
            if (logs == null || !logs.isArray()) {
                throw new AdminException(ExitCode.SERVER_ERROR, "the logs answer has no \"logs\" array");
            }
            PrintWriter out = spec.commandLine().getOut();
            if (format.json()) {
                out.println(ApiClient.pretty(logs));
            } else {
                for (JsonNode e : logs) {
                    out.printf("%s  %-5s  %s%n", text(e, "timestamp"), text(e, "level"), text(e, "message"));
                }
            }
            out.flush();
            return ExitCode.OK;
        }
    }

    @Command(name = "exec", mixinStandardHelpOptions = true,
            description = {"Run a command in a sandbox as the SDK's commands.run does (bash -l -c, through the proxy).",
                    "One word is a shell command line ('ls | wc -l'); several are quoted word by word.",
                    "Exits with the command's exit code (128+N when killed by signal N, 124 at --timeout)."})
    static final class Exec extends AdminCall {

        @Parameters(index = "0", paramLabel = "SANDBOX_ID")
        String id;

        @Parameters(index = "1..*", arity = "1..*", paramLabel = "COMMAND")
        List<String> command = new ArrayList<>();

        @Option(names = "--user", description = "Run as this user. Default: the sandbox's (user).")
        String user;

        @Option(names = "--cwd", description = "Working directory. Default: the user's home.")
        String cwd;

        @Option(names = {"-e", "--env"}, paramLabel = "KEY=VALUE", description = "An environment variable (repeatable).")
        Map<String, String> envs = new LinkedHashMap<>();

        @Option(names = "--timeout", paramLabel = "SECONDS", defaultValue = "60",
                description = "Kill the command after this long; 0 = never. Default: ${DEFAULT-VALUE}.")
        long timeoutSeconds;

        @Override
        public Integer call() {
            if (timeoutSeconds < 0) {
                throw new AdminException(ExitCode.USAGE, "--timeout must be 0 or more seconds");
            }
            PrintWriter out = spec.commandLine().getOut();
            PrintWriter err = spec.commandLine().getErr();
            EnvdExec exec = new EnvdExec(api.client(), api.sandboxUri());
            EnvdExec.Request request = new EnvdExec.Request(id, EnvdExec.commandLine(command), user, cwd, envs,
                    Duration.ofSeconds(timeoutSeconds));
            // Text: the output streams to our stdout/stderr as it comes; JSON: one document at the end.
            EnvdExec.Result r = format.json() ? exec.run(request, null, null) : exec.run(request, out, err);
            if (format.json()) {
                ObjectNode n = ApiClient.JSON.createObjectNode().put("sandboxID", id).put("command", request.command())
                        .put("exitCode", r.exitCode()).put("exited", r.exited()).put("status", r.status())
                        .put("stdout", r.stdout()).put("stderr", r.stderr());
                out.println(ApiClient.pretty(n));
            }
            out.flush();
            err.flush();
            return r.exitCode();
        }
    }
}
