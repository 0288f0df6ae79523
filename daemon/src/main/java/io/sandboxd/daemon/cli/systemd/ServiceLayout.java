package io.sandboxd.daemon.cli.systemd;

import io.sandboxd.daemon.orchestrator.ShutdownPolicy;
import java.nio.file.Path;
import java.util.List;

/**
 * What the installed service runs and where: the JVM and jar that {@code install} itself was started from (so the
 * service runs the same build), envd's jar, the data dir, the {@code serve} options and the shutdown policy.
 *
 * @param envdJar   null: serve finds it next to the daemon's jar as it does when started by hand
 * @param serveArgs further {@code serve} options, in order (ports, bind address, domain, warm pool)
 */
public record ServiceLayout(String unitName, Path unitDir, Path java, Path jar, Path envdJar, Path dataDir,
                            ShutdownPolicy onShutdown, List<String> serveArgs) {
    public static final String UNIT_NAME = "sandboxd.service";
    public static final Path UNIT_DIR = Path.of("/etc/systemd/system");

    public ServiceLayout {
        serveArgs = List.copyOf(serveArgs);
    }

    public Path unitFile() {
        return unitDir.resolve(unitName);
    }

    /** The service's command line: the JVM with native access for FFM, the jar, {@code serve} and its options. */
    public List<String> execStart() {
        List<String> argv = new java.util.ArrayList<>(List.of(java.toString(), "--enable-native-access=ALL-UNNAMED",
                "-jar", jar.toString(), "serve", "--data-dir", dataDir.toString(), "--on-shutdown",
                onShutdown.optionName()));
        if (envdJar != null) {
            argv.addAll(List.of("--envd-jar", envdJar.toString()));
        }
        argv.addAll(serveArgs);
        return argv;
    }
}
