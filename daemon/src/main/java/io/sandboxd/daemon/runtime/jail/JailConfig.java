package io.sandboxd.daemon.runtime.jail;

import io.sandboxd.daemon.network.NetworkConfig;
import io.sandboxd.daemon.runtime.Sandbox;
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
 * @param javaHome         the host JRE bind-mounted read-only at {@link #JRE_MOUNT} in every jail
 * @param envdJar          envd's jar, bind-mounted read-only at {@link #ENVD_JAR_MOUNT}; null when the command does
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
    /** Where the host JRE appears inside a jail. */
    public static final String JRE_MOUNT = "/opt/sandboxd/jre";
    /** Where envd's jar appears inside a jail. */
    public static final String ENVD_JAR_MOUNT = "/opt/sandboxd/envd.jar";
    /** envd's liveness endpoint (spec: GET /health → 204). */
    public static final String ENVD_HEALTH_PATH = "/health";
    public static final Path RUNC_ROOT_DEFAULT = Path.of("/run/sandboxd/runc");
    public static final String CGROUP_PARENT_DEFAULT = "sandboxd";
    public static final Duration START_TIMEOUT_DEFAULT = Duration.ofSeconds(30);
    public static final int POOL_SIZE_DEFAULT = 2;
    public static final int CPU_COUNT_DEFAULT = 2;
    public static final int MEMORY_MB_DEFAULT = 512;
    public static final int PIDS_LIMIT_DEFAULT = 4096;
    /**
     * envd's AOT cache inside a jail, read-only: the one {@link EnvdAotCache} recorded for this envd.jar and JRE, or
     * the JRE's default CDS archive while there is none (so envd still starts with the JDK's classes shared).
     */
    public static final String ENVD_AOT_CACHE = "/opt/sandboxd/" + EnvdAotCache.FILE_NAME;
    /**
     * envd's JVM flags: the jail command's and the AOT training run's (the cache is only used by a JVM started with
     * flags it was recorded with). An idle agent in every sandbox should cost little memory and CPU to start
     * (measured side by side with bench/.../EnvdBootComparison):
     * <ul>
     * <li>Serial GC and C1 only.
     * <li>An explicit heap: a jail has no cgroup filesystem, so the JVM sized its heap from the host's RAM (1/64 of
     *     it as the initial heap: 378 MB on a 24 GB host, all of startup's garbage kept in a huge eden). 128 MB is
     *     the 25% of a default 512 MB sandbox the old {@code MaxRAMPercentage=25} meant.
     * <li>No hsperfdata file in the sandbox's {@code /tmp}; malloc'd memory the JIT freed after start-up goes back to
     *     the kernel (a trim every 10 s costs ~0.2 ms).
     * <li>The AOT cache mapped where it was recorded ({@code ArchiveRelocationMode=0}) instead of relocated into
     *     private memory: its 23 MB read-only part is shared by every envd on the host (page cache). The price is
     *     a fixed address for envd's class metadata, i.e. less ASLR for a process the sandbox's user could only
     *     attack from inside, where it already has root.
     * </ul>
     */
    public static final List<String> ENVD_JVM_FLAGS = List.of("-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
            "-Xms8m", "-Xmx128m", "-XX:-UsePerfData", "-XX:TrimNativeHeapInterval=10000",
            "-XX:+UnlockDiagnosticVMOptions", "-XX:ArchiveRelocationMode=0");
    /**
     * How often a pooled envd runs a create's requests ({@code /init}, a process Start, a Stat) against itself
     * before its {@code /health} says ready. With one round a fresh sandbox's first commands ran mostly
     * interpreted: 20-30 ms each through the SDK right after a create, against ~8 ms once compiled. Thirty rounds
     * cost ~0.5 s of CPU at the pooled jail's lowest weight. (A lower C1 threshold, {@code
     * CompileThresholdScaling=0.1}, gained nothing on top of them and made every envd start ~0.25 s slower.)
     */
    public static final int ENVD_WARM_UP_ROUNDS = 30;
    /**
     * The user envd's warm-up makes the default, as every create's {@code /init} does with the template's user
     * (E2B's base template user): commands of a user other than envd's own take a path of their own in envd (its
     * spawner thread), which otherwise stayed cold until the sandbox's first command (3-5 ms from request to spawn,
     * traced). envd warms up as root in a template without this user.
     */
    public static final String ENVD_WARM_UP_USER = "user";
    /**
     * The warm-up rounds of a jail a create is already waiting for (the pool was empty): with thirty, a create on an
     * empty pool waited p50 1655 ms, with three 1136 ms (side by side), a price only worth paying ahead of time.
     * Three rounds still load every class and run each path on the serving envd's own threads.
     */
    public static final int ENVD_WARM_UP_ROUNDS_WAITED_FOR = 3;
    /**
     * envd on the mounted JRE, with the AOT cache the daemon records for this envd.jar and JRE (classes loaded and
     * linked ahead of time). A cache the JVM finds unusable (another JDK build, another jar) is ignored, and the JVM
     * then runs with no class sharing at all: slower, but it works.
     */
    public static final List<String> ENVD_COMMAND_DEFAULT = envdCommand(ENVD_JVM_FLAGS);
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
        if (command.contains(ENVD_JAR_MOUNT) && (envdJar == null || !Files.isRegularFile(envdJar))) {
            throw new IllegalArgumentException("the jail command runs " + ENVD_JAR_MOUNT + " but envd's jar "
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
                Path.of(System.getProperty("java.home")), envdJar, ENVD_COMMAND_DEFAULT, Sandbox.ENVD_PORT,
                ENVD_HEALTH_PATH, START_TIMEOUT_DEFAULT, POOL_SIZE_DEFAULT, CPU_COUNT_DEFAULT, MEMORY_MB_DEFAULT, PIDS_LIMIT_DEFAULT,
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
     * #ENVD_WARM_UP_ROUNDS_WAITED_FOR}; the command as it is when it has no such option (tests run a shell).
     */
    public List<String> commandForWaitingCreate() {
        int i = command.indexOf("--warm-up-rounds");
        if (i < 0 || i + 1 >= command.size()) {
            return command;
        }
        List<String> cut = new java.util.ArrayList<>(command);
        cut.set(i + 1, String.valueOf(ENVD_WARM_UP_ROUNDS_WAITED_FOR));
        return List.copyOf(cut);
    }

    /** True when the jail's command runs envd with the AOT cache at {@link #ENVD_AOT_CACHE}. */
    public boolean usesEnvdAotCache() {
        return envdJar != null && command.contains("-XX:AOTCache=" + ENVD_AOT_CACHE);
    }

    /** envd's command line in a jail with {@code jvmFlags}: java, the flags, the AOT cache, the jar, envd's port. */
    static List<String> envdCommand(List<String> jvmFlags) {
        List<String> cmd = new java.util.ArrayList<>();
        cmd.add(JRE_MOUNT + "/bin/java");
        cmd.addAll(jvmFlags);
        cmd.add("-XX:AOTCache=" + ENVD_AOT_CACHE);
        cmd.addAll(List.of("-jar", ENVD_JAR_MOUNT, "--port", String.valueOf(Sandbox.ENVD_PORT),
                "--warm-up-rounds", String.valueOf(ENVD_WARM_UP_ROUNDS), "--warm-up-user", ENVD_WARM_UP_USER));
        return List.copyOf(cmd);
    }
}
