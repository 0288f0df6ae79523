package io.sandboxd.daemon.runtime.jail;

import io.sandboxd.daemon.envd.EnvdInstall;
import io.sandboxd.daemon.envd.EnvdLaunch;
import io.sandboxd.daemon.network.NetworkConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * Everything the jail runtime needs to know, validated once when it is built. Defaults follow the
 * {@code FOO_DEFAULT} convention; {@code with...} methods return a changed copy.
 *
 * @param dataDir          {@code --data-dir}: templates under {@code templates/}, jails under {@code sandboxes/}
 * @param runcRoot         runc's state directory; a private one, so everything runc lists there is ours
 * @param cgroupParent     cgroup every jail's cgroup is created under ({@code /<parent>/<jail id>})
 * @param network          slot layout and names
 * @param javaHome         the host JRE bind-mounted read-only at {@link EnvdLaunch#JRE_PATH} in every jail
 * @param envdJar          envd's jar, bind-mounted read-only at {@link EnvdLaunch#JAR_PATH}; null when the command does
 *                         not need it (tests run a shell)
 * @param command          the jail's first process (envd by default), a path inside the jail plus arguments
 * @param readinessPort    a jail counts as ready when this TCP port answers at its slot address; 0 = as soon as
 *                         runc has started it
 * @param readinessPath    if not null, ready means a {@code GET} of this path on {@code readinessPort} answers 2xx
 *                         (for envd {@code /health}: that first request also loads envd's HTTP code, so the
 *                         sandbox's first real request does not pay for it); null = a TCP connect is enough
 * @param startTimeout     how long a jail may take to become ready
 * @param poolSize         jails kept prepared and started per template
 * @param defaultCpuCount  the CPU quota pooled jails start with (a create changes it when its spec differs)
 * @param defaultMemoryMB  the memory limit pooled jails start with
 * @param pidsLimit        most processes and threads one jail may have
 * @param noNewPrivileges  set no_new_privs on the jail's first process (inherited by everything it starts). Off by
 *                         default: it would make {@code sudo} inside the base template useless, and the jail's
 *                         boundary is the capability bounding set, seccomp and namespaces, not the user inside
 * @param seccomp          install the default seccomp profile ({@link SeccompProfile})
 */
public record JailConfig(Path dataDir, Path runcRoot, String cgroupParent, NetworkConfig network, Path javaHome,
                         Path envdJar, List<String> command, int readinessPort, String readinessPath, Duration startTimeout, int poolSize,
                         int defaultCpuCount, int defaultMemoryMB, int pidsLimit, boolean noNewPrivileges, boolean seccomp) {
    public static final Path RUNC_ROOT_DEFAULT = Path.of("/run/sandboxd/runc");
    public static final String CGROUP_PARENT_DEFAULT = "sandboxd";
    public static final Duration START_TIMEOUT_DEFAULT = Duration.ofSeconds(30);
    public static final int POOL_SIZE_DEFAULT = 2;
    public static final int CPU_COUNT_DEFAULT = 2;
    public static final int MEMORY_MB_DEFAULT = 512;
    public static final int PIDS_LIMIT_DEFAULT = 4096;
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9_.-]{1,64}");

    public JailConfig {
        Objects.requireNonNull(dataDir, "dataDir");
        Objects.requireNonNull(runcRoot, "runcRoot");
        Objects.requireNonNull(network, "network");
        Objects.requireNonNull(javaHome, "javaHome");
        Objects.requireNonNull(startTimeout, "startTimeout");
        if (!NAME.matcher(cgroupParent).matches()) {
            throw new IllegalArgumentException("cgroup parent '" + cgroupParent + "' must be 1-64 of [A-Za-z0-9_.-]");
        }
        command = List.copyOf(command);
        if (command.isEmpty()) {
            throw new IllegalArgumentException("the jail command is empty");
        }
        if (command.contains(EnvdLaunch.JAR_PATH) && (envdJar == null || !Files.isRegularFile(envdJar))) {
            throw new IllegalArgumentException("the jail command runs " + EnvdLaunch.JAR_PATH + " but envd's jar "
                    + (envdJar == null ? "is not configured" : envdJar + " does not exist")
                    + ": build it with ./mvnw -pl envd -am package (it lands in envd/target/envd.jar)");
        }
        if (!Files.isRegularFile(javaHome.resolve("bin/java"))) {
            throw new IllegalArgumentException(javaHome + " is not a JRE (no bin/java): it is mounted into every jail for envd");
        }
        if (readinessPort < 0 || readinessPort > 65535) {
            throw new IllegalArgumentException("readiness port must be 0..65535, got " + readinessPort);
        }
        if (readinessPath != null && (!readinessPath.startsWith("/") || readinessPort == 0 || readinessPath.contains(" ")
                || readinessPath.contains("\r") || readinessPath.contains("\n"))) {
            throw new IllegalArgumentException("readiness path '" + readinessPath + "' must be an absolute URL path and needs a readiness port");
        }
        if (poolSize < 0) {
            throw new IllegalArgumentException("pool size must be >= 0, got " + poolSize);
        }
        if (defaultCpuCount < 1 || defaultMemoryMB < 64 || pidsLimit < 8) {
            throw new IllegalArgumentException("defaults need cpu >= 1, memory >= 64 MiB, pids >= 8; got "
                    + defaultCpuCount + ", " + defaultMemoryMB + ", " + pidsLimit);
        }
    }

    /** The defaults for a data directory: envd from {@code envdJar}, the JRE this daemon runs on. */
    public static JailConfig defaults(Path dataDir, Path envdJar) {
        return new JailConfig(dataDir, RUNC_ROOT_DEFAULT, CGROUP_PARENT_DEFAULT, NetworkConfig.defaults(),
                Path.of(System.getProperty("java.home")), envdJar, EnvdLaunch.COMMAND, EnvdLaunch.PORT,
                EnvdLaunch.HEALTH_PATH, START_TIMEOUT_DEFAULT, POOL_SIZE_DEFAULT, CPU_COUNT_DEFAULT, MEMORY_MB_DEFAULT, PIDS_LIMIT_DEFAULT,
                false, true);
    }

    /** The defaults, but with {@code command} as the first process instead of envd (no envd jar mounted). */
    public static JailConfig forCommand(Path dataDir, List<String> command, int readinessPort) {
        return new JailConfig(dataDir, RUNC_ROOT_DEFAULT, CGROUP_PARENT_DEFAULT, NetworkConfig.defaults(),
                Path.of(System.getProperty("java.home")), null, command, readinessPort, null, START_TIMEOUT_DEFAULT,
                POOL_SIZE_DEFAULT, CPU_COUNT_DEFAULT, MEMORY_MB_DEFAULT, PIDS_LIMIT_DEFAULT, false, true);
    }

    public JailConfig withRuncRoot(Path p) {
        return new JailConfig(dataDir, p, cgroupParent, network, javaHome, envdJar, command, readinessPort, readinessPath, startTimeout,
                poolSize, defaultCpuCount, defaultMemoryMB, pidsLimit, noNewPrivileges, seccomp);
    }

    public JailConfig withCgroupParent(String p) {
        return new JailConfig(dataDir, runcRoot, p, network, javaHome, envdJar, command, readinessPort, readinessPath, startTimeout,
                poolSize, defaultCpuCount, defaultMemoryMB, pidsLimit, noNewPrivileges, seccomp);
    }

    public JailConfig withNetwork(NetworkConfig n) {
        return new JailConfig(dataDir, runcRoot, cgroupParent, n, javaHome, envdJar, command, readinessPort, readinessPath, startTimeout,
                poolSize, defaultCpuCount, defaultMemoryMB, pidsLimit, noNewPrivileges, seccomp);
    }

    /** Ready when {@code GET path} on the readiness port answers 2xx (null: when the port accepts a connection). */
    public JailConfig withReadinessPath(String path) {
        return new JailConfig(dataDir, runcRoot, cgroupParent, network, javaHome, envdJar, command, readinessPort, path,
                startTimeout, poolSize, defaultCpuCount, defaultMemoryMB, pidsLimit, noNewPrivileges, seccomp);
    }

    /** A different first process, and the port that says it is ready (0: do not wait for a port). */
    public JailConfig withCommand(List<String> cmd, int readyPort) {
        return new JailConfig(dataDir, runcRoot, cgroupParent, network, javaHome, envdJar, cmd, readyPort, null, startTimeout,
                poolSize, defaultCpuCount, defaultMemoryMB, pidsLimit, noNewPrivileges, seccomp);
    }

    public JailConfig withPoolSize(int n) {
        return new JailConfig(dataDir, runcRoot, cgroupParent, network, javaHome, envdJar, command, readinessPort, readinessPath, startTimeout,
                n, defaultCpuCount, defaultMemoryMB, pidsLimit, noNewPrivileges, seccomp);
    }

    public JailConfig withDefaults(int cpuCount, int memoryMB, int pids) {
        return new JailConfig(dataDir, runcRoot, cgroupParent, network, javaHome, envdJar, command, readinessPort, readinessPath, startTimeout,
                poolSize, cpuCount, memoryMB, pids, noNewPrivileges, seccomp);
    }

    public JailConfig withNoNewPrivileges(boolean on) {
        return new JailConfig(dataDir, runcRoot, cgroupParent, network, javaHome, envdJar, command, readinessPort, readinessPath, startTimeout,
                poolSize, defaultCpuCount, defaultMemoryMB, pidsLimit, on, seccomp);
    }

    public JailConfig withStartTimeout(Duration d) {
        return new JailConfig(dataDir, runcRoot, cgroupParent, network, javaHome, envdJar, command, readinessPort, readinessPath, d,
                poolSize, defaultCpuCount, defaultMemoryMB, pidsLimit, noNewPrivileges, seccomp);
    }

    public Path sandboxesDir() {
        return dataDir.resolve("sandboxes");
    }

    /** Where {@link EnvdAotCache} keeps envd's AOT caches, one directory per (envd.jar, JRE, flags). */
    public Path envdAotDir() {
        return dataDir.resolve("envd-aot");
    }

    /**
     * The jail's command for a jail a create is waiting for: with envd's {@code --warm-up-rounds} cut to {@link
     * EnvdLaunch#WARM_UP_ROUNDS_WAITED_FOR}.
     */
    public List<String> commandForWaitingCreate() {
        return EnvdLaunch.withWarmUpRounds(command, EnvdLaunch.WARM_UP_ROUNDS_WAITED_FOR);
    }

    /** The envd this configuration's jails run (JRE, jar, command, AOT caches), or null when they run no envd. */
    public EnvdInstall envdInstall() {
        return envdJar == null ? null : new EnvdInstall(javaHome, envdJar, command, envdAotDir());
    }
}
