package io.sandboxd.daemon.cli.systemd;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.sandboxd.daemon.cli.admin.AdminException;
import io.sandboxd.daemon.cli.admin.ExitCode;
import io.sandboxd.daemon.orchestrator.ShutdownPolicy;
import java.io.PrintWriter;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code sandboxd install}: sandboxd as a systemd service. Writes the unit (the JVM and jar this command runs
 * from, {@code serve} with the given options), creates the data dir, reloads systemd, enables and starts the
 * service. The service runs as root; see {@link SystemdUnit} for each directive's reason.
 */
@Command(name = "install", mixinStandardHelpOptions = true,
        description = {"Install sandboxd as a systemd service (unit, data dir, enable, start). Runs as root.",
                "--dry-run prints the unit and the steps without doing anything (works without systemd)."})
public final class InstallCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--dry-run", description = "Print the unit and the steps; change nothing.")
    boolean dryRun;

    @Option(names = "--no-start", description = "Enable the service but do not start it now.")
    boolean noStart;

    @Option(names = "--format", defaultValue = "text", paramLabel = "text|json",
            description = "Output: text or json. Default: ${DEFAULT-VALUE}.")
    io.sandboxd.daemon.cli.admin.OutputFormat.Kind format;

    @Option(names = "--data-dir", defaultValue = "/var/lib/sandboxd", description = "Default: ${DEFAULT-VALUE}.")
    Path dataDir;

    @Option(names = "--unit-dir", defaultValue = "/etc/systemd/system", description = "Default: ${DEFAULT-VALUE}.")
    Path unitDir;

    @Option(names = "--java", description = "The JVM the service runs. Default: the one running this command.")
    Path java;

    @Option(names = "--jar", description = "The daemon's jar. Default: the one running this command.")
    Path jar;

    @Option(names = "--envd-jar", description = "envd's jar. Default: envd/target/envd.jar beside the daemon's checkout, if there.")
    Path envdJar;

    @Option(names = "--on-shutdown", defaultValue = "kill", paramLabel = "kill|pause|keep",
            description = "serve's --on-shutdown; also decides KillMode (mixed for kill, else process). Default: ${DEFAULT-VALUE}.")
    String onShutdown;

    @Option(names = "--api-port", description = "serve --api-port (default 3000).")
    Integer apiPort;

    @Option(names = "--proxy-port", description = "serve --proxy-port (default 3002).")
    Integer proxyPort;

    @Option(names = "--bind", description = "serve --bind (default 127.0.0.1).")
    String bind;

    @Option(names = "--domain", description = "serve --domain (default localhost).")
    String domain;

    @Option(names = "--warm-pool", description = "serve --warm-pool.")
    Integer warmPool;

    @Override
    public Integer call() {
        ServiceLayout layout = layout();
        List<ServiceStep> steps = ServicePlan.install(layout, !noStart);
        PrintWriter out = spec.commandLine().getOut();
        boolean json = format == io.sandboxd.daemon.cli.admin.OutputFormat.Kind.json;
        ObjectNode report = StepRunner.JSON.createObjectNode();
        report.put("unitFile", layout.unitFile().toString());
        report.put("unit", SystemdUnit.render(layout));
        report.put("dryRun", dryRun);
        if (dryRun) {
            report.set("steps", StepRunner.json(steps));
            if (json) {
                out.println(report.toPrettyString());
            } else {
                out.println("# " + layout.unitFile() + ":");
                out.print(SystemdUnit.render(layout));
                out.println();
                StepRunner.print(steps, out);
            }
            out.flush();
            return ExitCode.OK;
        }
        ServiceHost host = StepRunner.host.get();
        StepRunner.requireSystemd(host, "install");
        requireFile(host, "--java", layout.java());
        requireFile(host, "--jar", layout.jar());
        if (layout.envdJar() != null) {
            requireFile(host, "--envd-jar", layout.envdJar());
        }
        report.set("steps", StepRunner.apply(steps, host, out, json));
        if (json) {
            out.println(report.toPrettyString());
        } else {
            out.println("installed " + layout.unitName() + (noStart ? " (enabled, not started)" : " (enabled, started)")
                    + ". Logs: journalctl -u " + layout.unitName() + " -f; credentials: " + layout.dataDir()
                    + "/sandboxd.env once it is ready. A service that was already running keeps its old unit until"
                    + " 'systemctl restart " + layout.unitName() + "'.");
        }
        out.flush();
        return ExitCode.OK;
    }

    ServiceLayout layout() {
        ShutdownPolicy policy = switch (onShutdown) {
            case "kill" -> ShutdownPolicy.KILL;
            case "pause" -> ShutdownPolicy.PAUSE;
            case "keep" -> ShutdownPolicy.KEEP;
            default -> throw new AdminException(ExitCode.USAGE, "--on-shutdown: expected kill, pause or keep, not '"
                    + onShutdown + "'");
        };
        if (!dataDir.isAbsolute() || !unitDir.isAbsolute()) {
            throw new AdminException(ExitCode.USAGE, "--data-dir and --unit-dir must be absolute paths");
        }
        Path javaBin = java != null ? java : ProcessHandle.current().info().command().map(Path::of)
                .orElseThrow(() -> new AdminException(ExitCode.USAGE, "cannot tell which JVM runs this: pass --java"));
        Path daemonJar = jar != null ? jar : selfJar();
        Path envd = envdJar;
        if (envd == null) {
            // <checkout>/daemon/target/sandboxd.jar -> <checkout>/envd/target/envd.jar, as serve looks for it
            Path parent = daemonJar.toAbsolutePath().getParent();
            Path candidate = parent == null || parent.getParent() == null || parent.getParent().getParent() == null
                    ? null : parent.getParent().getParent().resolve("envd/target/envd.jar");
            envd = candidate != null && Files.isRegularFile(candidate) ? candidate : null;
        }
        List<String> serveArgs = new ArrayList<>();
        if (apiPort != null) {
            serveArgs.addAll(List.of("--api-port", apiPort.toString()));
        }
        if (proxyPort != null) {
            serveArgs.addAll(List.of("--proxy-port", proxyPort.toString()));
        }
        if (bind != null) {
            serveArgs.addAll(List.of("--bind", bind));
        }
        if (domain != null) {
            serveArgs.addAll(List.of("--domain", domain));
        }
        if (warmPool != null) {
            serveArgs.addAll(List.of("--warm-pool", warmPool.toString()));
        }
        return new ServiceLayout(ServiceLayout.UNIT_NAME, unitDir, javaBin.toAbsolutePath(), daemonJar.toAbsolutePath(),
                envd == null ? null : envd.toAbsolutePath(), dataDir, policy, serveArgs);
    }

    private static Path selfJar() {
        try {
            Path self = Path.of(InstallCommand.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            if (!Files.isRegularFile(self)) {
                throw new AdminException(ExitCode.USAGE, "this sandboxd runs from " + self + ", not a jar: pass --jar"
                        + " (build it with ./mvnw -pl daemon -am package)");
            }
            return self;
        } catch (URISyntaxException | NullPointerException e) {
            throw new AdminException(ExitCode.USAGE, "cannot tell which jar runs this: pass --jar");
        }
    }

    private static void requireFile(ServiceHost host, String option, Path p) {
        if (!host.exists(p)) {
            throw new AdminException(ExitCode.USAGE, option + " " + p + " is not a file");
        }
    }
}
