package io.sandboxd.daemon.cli.systemd;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.sandboxd.daemon.cli.admin.AdminException;
import io.sandboxd.daemon.cli.admin.ExitCode;
import io.sandboxd.daemon.cli.admin.OutputFormat;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code sandboxd uninstall}: stops and disables the service and removes its unit. The data dir (templates, the
 * database, keys) stays unless {@code --purge}; then it and the embedded PostgreSQL's user go too.
 */
@Command(name = "uninstall", mixinStandardHelpOptions = true,
        description = {"Stop and disable the systemd service and remove its unit. Keeps the data dir unless --purge."})
public final class UninstallCommand implements Callable<Integer> {
    /** What a data dir written by serve holds; purge refuses a directory with none of these. */
    static final List<String> DATA_DIR_MARKERS = List.of("sandboxd.env", "token-secret", "db", "templates");
    private static final Pattern DATA_DIR_IN_UNIT = Pattern.compile("--data-dir\\s+(\"[^\"]+\"|\\S+)");

    @Spec
    CommandSpec spec;

    @Option(names = "--dry-run", description = "Print the steps; change nothing.")
    boolean dryRun;

    @Option(names = "--purge", description = "Also delete the data dir (templates, database, keys) and the sandboxd-pg user.")
    boolean purge;

    @Option(names = "--format", defaultValue = "text", paramLabel = "text|json",
            description = "Output: text or json. Default: ${DEFAULT-VALUE}.")
    OutputFormat.Kind format;

    @Option(names = "--data-dir", description = "Default: the installed unit's --data-dir, else /var/lib/sandboxd.")
    Path dataDir;

    @Option(names = "--unit-dir", defaultValue = "/etc/systemd/system", description = "Default: ${DEFAULT-VALUE}.")
    Path unitDir;

    @Override
    public Integer call() {
        ServiceHost host = StepRunner.host.get();
        Path unitFile = unitDir.resolve(ServiceLayout.UNIT_NAME);
        Path data = dataDir != null ? dataDir : installedDataDir(host, unitFile);
        boolean dataExists = host.exists(data);
        if (purge && dataExists) {
            checkPurgeable(host, data);
        }
        List<ServiceStep> steps = ServicePlan.uninstall(ServiceLayout.UNIT_NAME, unitFile, data, purge, dataExists);
        PrintWriter out = spec.commandLine().getOut();
        boolean json = format == OutputFormat.Kind.json;
        ObjectNode report = StepRunner.JSON.createObjectNode().put("dryRun", dryRun).put("dataDir", data.toString())
                .put("dataKept", !purge);
        if (dryRun) {
            report.set("steps", StepRunner.json(steps));
            if (json) {
                out.println(report.toPrettyString());
            } else {
                StepRunner.print(steps, out);
            }
            out.flush();
            return ExitCode.OK;
        }
        StepRunner.requireSystemd(host, "uninstall");
        report.set("steps", StepRunner.apply(steps, host, out, json));
        if (json) {
            out.println(report.toPrettyString());
        } else {
            out.println("uninstalled " + ServiceLayout.UNIT_NAME + (purge ? "; " + data + " deleted"
                    : "; " + data + " kept (delete it with --purge)"));
        }
        out.flush();
        return ExitCode.OK;
    }

    /** The {@code --data-dir} of the installed unit's ExecStart, so purge deletes what the service used. */
    static Path installedDataDir(ServiceHost host, Path unitFile) {
        if (host.exists(unitFile)) {
            try {
                Matcher m = DATA_DIR_IN_UNIT.matcher(host.read(unitFile));
                if (m.find()) {
                    String v = m.group(1);
                    return Path.of(v.startsWith("\"") ? v.substring(1, v.length() - 1) : v);
                }
            } catch (IOException e) {
                // fall back to the default
            }
        }
        return Path.of("/var/lib/sandboxd");
    }

    /** A typo in --data-dir must not delete someone's home: only a directory serve wrote is purged. */
    static void checkPurgeable(ServiceHost host, Path data) {
        if (!data.isAbsolute() || data.getNameCount() < 2) {
            throw new AdminException(ExitCode.REFUSED, "--purge refuses to delete " + data
                    + ": not an absolute path at least two levels deep");
        }
        if (DATA_DIR_MARKERS.stream().noneMatch(m -> host.exists(data.resolve(m)))) {
            throw new AdminException(ExitCode.REFUSED, "--purge refuses to delete " + data + ": it holds none of "
                    + DATA_DIR_MARKERS + ", so it is not a sandboxd data dir");
        }
    }
}
