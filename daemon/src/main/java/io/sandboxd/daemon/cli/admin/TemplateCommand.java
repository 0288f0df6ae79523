package io.sandboxd.daemon.cli.admin;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.PrintWriter;
import java.util.StringJoiner;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code sandboxd template list|delete|build}: templates through the daemon's API. A daemon without the template
 * endpoints answers 501, which becomes {@link ExitCode#NOT_IMPLEMENTED} with the daemon's own message.
 */
@Command(name = "template", mixinStandardHelpOptions = true,
        description = "Templates of the running daemon (through its API): list, delete, build.",
        subcommands = {TemplateCommand.ListTemplates.class, TemplateCommand.Delete.class, TemplateCommand.Build.class})
public final class TemplateCommand implements Runnable {
    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "List templates (GET /templates).")
    static final class ListTemplates extends AdminCall {

        @Override
        public Integer call() {
            JsonNode body = api.client().get("/templates").body();
            if (body == null || !body.isArray()) {
                throw new AdminException(ExitCode.SERVER_ERROR, "GET /templates did not answer a JSON array");
            }
            PrintWriter out = spec.commandLine().getOut();
            if (format.json()) {
                out.println(ApiClient.pretty(body));
            } else {
                String row = "%-22s  %-24s  %-10s  %3s  %7s  %s%n";
                out.printf(row, "TEMPLATE ID", "NAMES", "STATUS", "CPU", "MEM MB", "CREATED");
                for (JsonNode t : body) {
                    StringJoiner names = new StringJoiner(",");
                    JsonNode list = t.has("names") ? t.get("names") : t.path("aliases");
                    list.forEach(n -> names.add(n.asText()));
                    out.printf(row, SandboxCommand.text(t, "templateID"), names.length() == 0 ? "-" : names.toString(),
                            SandboxCommand.text(t, "buildStatus"), SandboxCommand.text(t, "cpuCount"),
                            SandboxCommand.text(t, "memoryMB"), SandboxCommand.text(t, "createdAt"));
                }
                if (body.isEmpty()) {
                    out.println("(no templates)");
                }
            }
            out.flush();
            return ExitCode.OK;
        }
    }

    @Command(name = "delete", mixinStandardHelpOptions = true, description = "Delete a template (DELETE /templates/{id}).")
    static final class Delete extends AdminCall {

        @Parameters(index = "0", paramLabel = "TEMPLATE_ID")
        String id;

        @Override
        public Integer call() {
            api.client().delete("/templates/" + SandboxCommand.enc(id));
            PrintWriter out = spec.commandLine().getOut();
            if (format.json()) {
                ObjectNode n = ApiClient.JSON.createObjectNode().put("templateID", id).put("deleted", true);
                out.println(ApiClient.pretty(n));
            } else {
                out.println("deleted " + id);
            }
            out.flush();
            return ExitCode.OK;
        }
    }

    /**
     * A build is the SDK's multi-step protocol (spec 1.6: files uploaded by content hash, steps, polling), driven by
     * a build description in code; this CLI does not re-implement it. It says where to build instead, after asking
     * the daemon whether it builds templates at all.
     */
    @Command(name = "build", mixinStandardHelpOptions = true,
            description = "Template builds go through the E2B SDK (Template.build) or the e2b CLI; this says how.")
    static final class Build implements Callable<Integer> {
        @Mixin
        ApiOptions api = new ApiOptions();
        @Spec
        CommandSpec spec;

        @Override
        public Integer call() {
            ApiClient client = api.client();
            try {
                client.get("/templates");
            } catch (ApiException e) {
                if (e.status() == 501) {
                    throw new AdminException(ExitCode.NOT_IMPLEMENTED, "this daemon does not build templates yet ("
                            + e.getMessage() + ")");
                }
                throw e;
            }
            throw new AdminException(ExitCode.NOT_IMPLEMENTED, "template builds need the E2B SDK (Template.build) or"
                    + " the e2b CLI: set E2B_API_URL=" + client.base() + " and E2B_API_KEY, then build with either");
        }
    }
}
