package io.sandboxd.daemon.envd;

import java.util.ArrayList;
import java.util.List;

/**
 * How envd is laid out and started inside every sandbox, whatever runs the sandbox (a jail mounts these paths from
 * the host, a VM's rootfs carries them): where its JRE, jar and AOT cache are, the JVM flags, and the warm-up it
 * runs against its own listener before its {@code /health} says ready.
 */
public final class EnvdLaunch {
    /** The port envd listens on inside every sandbox. */
    public static final int PORT = 49983;
    /** The envd protocol version sandboxd's envd speaks, as the SDKs read it from a sandbox's description. */
    public static final String VERSION = "0.6.13";
    /** envd's liveness endpoint (spec: GET /health → 204; 503 while it warms up). */
    public static final String HEALTH_PATH = "/health";
    /** Where envd's JRE is inside a sandbox. */
    public static final String JRE_PATH = "/opt/sandboxd/jre";
    /** Where envd's jar is inside a sandbox. */
    public static final String JAR_PATH = "/opt/sandboxd/envd.jar";
    /**
     * envd's AOT cache inside a sandbox, read-only: the one {@link EnvdAotCache} recorded for this envd.jar and JRE,
     * or the JRE's default CDS archive while there is none (so envd still starts with the JDK's classes shared).
     */
    public static final String AOT_CACHE_PATH = "/opt/sandboxd/" + EnvdAotCache.FILE_NAME;
    /**
     * envd's JVM flags: the sandbox command's and the AOT training run's (the cache is only used by a JVM started with
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
    public static final List<String> JVM_FLAGS = List.of("-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
            "-Xms8m", "-Xmx128m", "-XX:-UsePerfData", "-XX:TrimNativeHeapInterval=10000",
            "-XX:+UnlockDiagnosticVMOptions", "-XX:ArchiveRelocationMode=0");
    /**
     * How often a pooled envd runs a create's requests ({@code /init}, a process Start, a Stat) against itself
     * before its {@code /health} says ready. With one round a fresh sandbox's first commands ran mostly
     * interpreted: 20-30 ms each through the SDK right after a create, against ~8 ms once compiled. Thirty rounds
     * cost ~0.5 s of CPU at the pooled sandbox's lowest weight. (A lower C1 threshold, {@code
     * CompileThresholdScaling=0.1}, gained nothing on top of them and made every envd start ~0.25 s slower.)
     */
    public static final int WARM_UP_ROUNDS = 30;
    /**
     * The user envd's warm-up makes the default, as every create's {@code /init} does with the template's user
     * (E2B's base template user): commands of a user other than envd's own take a path of their own in envd (its
     * spawner thread), which otherwise stayed cold until the sandbox's first command (3-5 ms from request to spawn,
     * traced). envd warms up as root in a template without this user.
     */
    public static final String WARM_UP_USER = "user";
    /**
     * The warm-up rounds of an envd a create is already waiting for (the pool was empty): with thirty, a create on an
     * empty pool waited p50 1655 ms, with three 1136 ms (side by side), a price only worth paying ahead of time.
     * Three rounds still load every class and run each path on the serving envd's own threads.
     */
    public static final int WARM_UP_ROUNDS_WAITED_FOR = 3;
    /**
     * envd on the sandbox's JRE with the AOT cache (classes loaded and linked ahead of time). A cache the JVM finds
     * unusable (another JDK build, another jar) is ignored, and the JVM then runs with no class sharing at all:
     * slower, but it works.
     */
    public static final List<String> COMMAND = command(JVM_FLAGS);

    private EnvdLaunch() {
    }

    /**
     * envd's command line in a sandbox with {@code jvmFlags}: java, the flags, the AOT cache, the jar, the port, the
     * warm-up, and {@code --set-clock-from-init}: envd is this sandbox's agent, so /init's timestamp corrects a
     * restored or pooled sandbox's clock (an envd started without it, on a host, never touches the clock).
     */
    public static List<String> command(List<String> jvmFlags) {
        List<String> cmd = new ArrayList<>();
        cmd.add(JRE_PATH + "/bin/java");
        cmd.addAll(jvmFlags);
        cmd.add("-XX:AOTCache=" + AOT_CACHE_PATH);
        cmd.addAll(List.of("-jar", JAR_PATH, "--port", String.valueOf(PORT),
                "--warm-up-rounds", String.valueOf(WARM_UP_ROUNDS), "--warm-up-user", WARM_UP_USER,
                "--set-clock-from-init"));
        return List.copyOf(cmd);
    }

    /**
     * {@code command} with envd's {@code --warm-up-rounds} set to {@code rounds}; the command as it is when it has no
     * such option (tests run a shell as the first process).
     */
    public static List<String> withWarmUpRounds(List<String> command, int rounds) {
        int i = command.indexOf("--warm-up-rounds");
        if (i < 0 || i + 1 >= command.size()) {
            return command;
        }
        List<String> cut = new ArrayList<>(command);
        cut.set(i + 1, String.valueOf(rounds));
        return List.copyOf(cut);
    }

    /** True when {@code command} runs envd with the AOT cache at {@link #AOT_CACHE_PATH}. */
    public static boolean usesAotCache(List<String> command) {
        return command.contains("-XX:AOTCache=" + AOT_CACHE_PATH);
    }
}
