package io.sandboxd.bench;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Starts envd on the host with several JVM command lines, alternating between them round by round, and prints a
 * table per command line: wall time from process start to {@code GET /health} 2xx, CPU time (user + sys, the
 * process and its reaped children, from {@code /proc/<pid>/stat}) spent by then, the first {@code Start} of
 * {@code /bin/true} after ready, and the idle RSS and PSS ({@code /proc/<pid>/smaps_rollup}) with {@code --count}
 * envds of the same command line alive at once, {@code --settle-ms} after the last one is ready (pooled sandboxes)
 * and again after each ran its first command.
 *
 * <p>Needs nothing but a JDK: runs straight from source, so it measures envd.jar without building the reactor.
 *
 * <pre>
 * java bench/src/main/java/io/sandboxd/bench/EnvdBootComparison.java --jar envd/target/envd.jar --rounds 5 --count 5 \
 *     --variant 'old=-XX:+UseSerialGC -XX:TieredStopAtLevel=1' --variant 'new=-XX:AOTCache=/tmp/envd.aot ...'
 * </pre>
 * Each {@code --variant name=flags} is a whitespace-separated JVM flag list put before {@code -jar}; arguments after
 * a {@code |} in it go after the jar (envd's own options). A variant with {@code -XX:AOTCache=<file>} gets that cache
 * recorded first, as the daemon records it (EnvdAotCache): a training run {@code java <the variant's other flags>
 * -XX:AOTCacheOutput=<file> -jar <jar> --train}, so the cache always matches the jar being measured.
 */
public final class EnvdBootComparison {
    private static final long CLK_TCK_NANOS = 10_000_000L; // USER_HZ is 100 on Linux
    private static final String START_BODY = "{\"process\":{\"cmd\":\"/bin/true\"},\"stdin\":false}";

    private EnvdBootComparison() {
    }

    record Variant(String name, List<String> jvmFlags, List<String> envdArgs) {
    }

    /** One envd's numbers. */
    record Sample(double readyMs, double cpuMs, double firstStartMs, long rssKb, long pssKb, long rssAfterKb,
                  long pssAfterKb) {
    }

    public static void main(String[] args) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Path jar = Path.of("envd/target/envd.jar");
        int rounds = 5;
        int count = 5;
        int basePort = 21100;
        long settleMs = 2000;
        boolean inRunc = false;
        List<Variant> variants = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--java" -> java = args[++i];
                case "--jar" -> jar = Path.of(args[++i]);
                case "--rounds" -> rounds = Integer.parseInt(args[++i]);
                case "--count" -> count = Integer.parseInt(args[++i]);
                case "--base-port" -> basePort = Integer.parseInt(args[++i]);
                case "--settle-ms" -> settleMs = Long.parseLong(args[++i]);
                case "--runc" -> inRunc = true;
                case "--variant" -> variants.add(parseVariant(args[++i]));
                default -> throw new IllegalArgumentException("unknown argument " + args[i]
                        + " (--java --jar --rounds --count --base-port --settle-ms --runc --variant name=flags[|envd args])");
            }
        }
        if (variants.isEmpty()) {
            throw new IllegalArgumentException("give at least one --variant name=flags");
        }
        if (!Files.isRegularFile(jar)) {
            throw new IllegalArgumentException(jar + " does not exist: ./mvnw -q -pl envd -am package -DskipTests");
        }
        Map<String, List<Sample>> results = new LinkedHashMap<>();
        variants.forEach(v -> results.put(v.name(), new ArrayList<>()));
        Path logs = Files.createTempDirectory("envd-boot");
        Launcher launcher = inRunc ? new RuncLauncher(java, jar, logs) : new HostLauncher(java, jar);
        System.out.printf("java %s, jar %s, %s, %d rounds x %d envds per variant, logs in %s, load %s%n", java, jar,
                inRunc ? "each envd in its own runc container" : "envds on the host", rounds, count, logs,
                loadAverage());
        for (Variant v : variants) {
            recordAotCache(java, jar, v, logs);
        }
        for (int r = 0; r < rounds; r++) {
            // alternate the order too, so neither variant always runs right after the other's teardown
            List<Variant> order = new ArrayList<>(variants);
            if (r % 2 == 1) {
                Collections.reverse(order);
            }
            for (Variant v : order) {
                List<Sample> s = round(launcher, v, r, count, basePort, settleMs, logs);
                results.get(v.name()).addAll(s);
                System.out.printf("round %d %-10s ready p50 %6.0f ms  cpu p50 %6.0f ms  first Start p50 %5.1f ms  "
                                + "PSS %6.1f MiB%n", r, v.name(), p50(s, Sample::readyMs), p50(s, Sample::cpuMs),
                        p50(s, Sample::firstStartMs), mean(s, x -> x.pssKb() / 1024.0));
            }
        }
        launcher.close();
        System.out.printf("%nload after: %s%n", loadAverage());
        System.out.printf("%-10s %12s %12s %12s %12s %14s %14s %14s %14s%n", "variant", "ready p50", "ready max",
                "CPU p50", "1st Start p50", "RSS idle", "PSS idle", "RSS after cmd", "PSS after cmd");
        for (var e : results.entrySet()) {
            List<Sample> s = e.getValue();
            System.out.printf("%-10s %9.0f ms %9.0f ms %9.0f ms %9.1f ms %10.1f MiB %10.1f MiB %10.1f MiB %10.1f MiB%n",
                    e.getKey(), p50(s, Sample::readyMs), max(s, Sample::readyMs), p50(s, Sample::cpuMs),
                    p50(s, Sample::firstStartMs), mean(s, x -> x.rssKb() / 1024.0), mean(s, x -> x.pssKb() / 1024.0),
                    mean(s, x -> x.rssAfterKb() / 1024.0), mean(s, x -> x.pssAfterKb() / 1024.0));
        }
        for (Variant v : variants) {
            System.out.println(v.name() + ": " + String.join(" ", v.jvmFlags()) + " -jar " + jar + " "
                    + String.join(" ", v.envdArgs()));
        }
    }

    /** Records the variant's AOT cache with its flags, unless it has none. */
    static void recordAotCache(String java, Path jar, Variant v, Path logs) throws Exception {
        String cache = null;
        List<String> cmd = new ArrayList<>();
        cmd.add(java);
        for (String f : v.jvmFlags()) {
            if (f.startsWith("-XX:AOTCache=")) {
                cache = f.substring("-XX:AOTCache=".length());
            } else {
                cmd.add(f);
            }
        }
        if (cache == null) {
            return;
        }
        Files.deleteIfExists(Path.of(cache));
        cmd.addAll(List.of("-XX:AOTCacheOutput=" + cache, "-jar", jar.toString(), "--train"));
        Path log = logs.resolve(v.name() + "-training.log");
        long t0 = System.nanoTime();
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        if (!p.waitFor(5, TimeUnit.MINUTES) || p.exitValue() != 0 || !Files.isRegularFile(Path.of(cache))) {
            throw new IllegalStateException(v.name() + ": the training run failed, see " + log);
        }
        System.out.printf("%s: recorded %s (%d MiB) in %d ms%n", v.name(), cache, Files.size(Path.of(cache)) >> 20,
                (System.nanoTime() - t0) / 1_000_000);
    }

    static Variant parseVariant(String s) {
        int eq = s.indexOf('=');
        if (eq <= 0) {
            throw new IllegalArgumentException("--variant wants name=flags, got " + s);
        }
        String rest = s.substring(eq + 1);
        int bar = rest.indexOf('|');
        String jvm = bar < 0 ? rest : rest.substring(0, bar);
        String envd = bar < 0 ? "" : rest.substring(bar + 1);
        return new Variant(s.substring(0, eq), words(jvm), words(envd));
    }

    private static List<String> words(String s) {
        return s.isBlank() ? List.of() : Arrays.asList(s.trim().split("\\s+"));
    }

    /** Starts {@code count} envds one after the other, measures each, then the memory of all of them alive. */
    static List<Sample> round(Launcher launcher, Variant v, int round, int count, int basePort, long settleMs,
                              Path logs) throws Exception {
        List<Envd> envds = new ArrayList<>();
        double[] ready = new double[count];
        double[] cpu = new double[count];
        double[] first = new double[count];
        long[][] mem = new long[count][];
        long[][] memAfter = new long[count][];
        try {
            for (int i = 0; i < count; i++) {
                int port = basePort + i;
                String name = v.name() + "-" + round + "-" + i;
                Path log = logs.resolve(name + ".log");
                long t0 = System.nanoTime();
                Envd e = launcher.start(name, v, port, log);
                envds.add(e);
                InetSocketAddress addr = new InetSocketAddress("127.0.0.1", port);
                while (!healthy(addr)) {
                    if (!e.process().isAlive()) {
                        throw new IllegalStateException(name + ": envd exited with " + e.process().exitValue()
                                + ", see " + log);
                    }
                    if (System.nanoTime() - t0 > TimeUnit.SECONDS.toNanos(60)) {
                        throw new IllegalStateException(name + ": envd not ready in 60 s");
                    }
                    Thread.sleep(2);
                }
                ready[i] = (System.nanoTime() - t0) / 1e6;
                cpu[i] = e.cpuNanos() / 1e6;
            }
            Thread.sleep(settleMs);
            for (int i = 0; i < count; i++) {
                mem[i] = rssPss(envds.get(i).pid());
            }
            for (int i = 0; i < count; i++) {
                long t = System.nanoTime();
                String resp = start(new InetSocketAddress("127.0.0.1", basePort + i));
                first[i] = (System.nanoTime() - t) / 1e6;
                if (!resp.contains("\"end\"")) {
                    throw new IllegalStateException(v.name() + ": first Start did not end: " + resp);
                }
            }
            Thread.sleep(settleMs);
            for (int i = 0; i < count; i++) {
                memAfter[i] = rssPss(envds.get(i).pid());
            }
        } finally {
            for (Envd e : envds) {
                e.stop();
            }
        }
        List<Sample> out = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            out.add(new Sample(ready[i], cpu[i], first[i], mem[i][0], mem[i][1], memAfter[i][0], memAfter[i][1]));
        }
        return out;
    }

    /** A started envd: the process to watch, the pid whose memory counts, its CPU so far. */
    interface Envd {
        Process process();

        long pid() throws IOException;

        long cpuNanos() throws IOException;

        void stop() throws Exception;
    }

    interface Launcher extends AutoCloseable {
        Envd start(String name, Variant v, int port, Path log) throws Exception;

        @Override
        default void close() throws Exception {
        }
    }

    /** {@code java <flags> -jar envd.jar} as a child of this runner; CPU from {@code /proc/<pid>/stat}. */
    record HostLauncher(String java, Path jar) implements Launcher {
        @Override
        public Envd start(String name, Variant v, int port, Path log) throws IOException {
            List<String> cmd = new ArrayList<>();
            cmd.add(java);
            cmd.addAll(v.jvmFlags());
            cmd.addAll(List.of("-jar", jar.toString(), "--port", String.valueOf(port), "--bind", "127.0.0.1"));
            cmd.addAll(v.envdArgs());
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
            return new Envd() {
                public Process process() {
                    return p;
                }

                public long pid() {
                    return p.pid();
                }

                public long cpuNanos() throws IOException {
                    return EnvdBootComparison.cpuNanos(p.pid());
                }

                public void stop() throws InterruptedException {
                    p.destroy();
                    if (!p.waitFor(10, TimeUnit.SECONDS)) {
                        p.destroyForcibly().waitFor();
                    }
                }
            };
        }
    }

    /**
     * envd as a jail runs it: pid 1 of a runc container ({@code boot-<variant>-<round>-<i>}) in its own pid, mount,
     * ipc and uts namespaces and a 512 MiB memory cgroup under {@code /boot-envd} (no cgroup filesystem inside, as in
     * a jail), the host JRE at {@code /opt/sandboxd/jre}, the jar at {@code /opt/sandboxd/envd.jar}, an AOT cache's
     * directory at {@code /opt/sandboxd/envd-aot}, all read-only; the host's {@code /usr} and {@code /etc} read-only
     * as the root filesystem (the host network namespace, so the runner reaches envd on loopback). CPU is the
     * container cgroup's {@code cpuacct.usage}: every process in it, in ns.
     */
    static final class RuncLauncher implements Launcher {
        private static final String CGROUP_PARENT = "boot-envd";
        private final String javaHome;
        private final Path jar;
        private final Path root;
        private final Path rootfs;

        RuncLauncher(String java, Path jar, Path logs) throws IOException {
            this.javaHome = Path.of(java).toAbsolutePath().getParent().getParent().toString();
            this.jar = jar.toAbsolutePath();
            this.root = logs.resolve("runc-state");
            this.rootfs = logs.resolve("rootfs");
            for (String d : List.of("usr", "etc", "proc", "dev", "tmp", "root", "opt/sandboxd/jre",
                    "opt/sandboxd/envd-aot")) {
                Files.createDirectories(rootfs.resolve(d));
            }
            Files.createFile(rootfs.resolve("opt/sandboxd/envd.jar"));
            for (String l : List.of("bin", "lib", "lib64", "sbin")) {
                Files.createSymbolicLink(rootfs.resolve(l), Path.of("usr", l));
            }
        }

        @Override
        public Envd start(String name, Variant v, int port, Path log) throws Exception {
            String id = "boot-" + name;
            Path bundle = Files.createDirectories(log.resolveSibling(id));
            String aotDir = null;
            List<String> args = new ArrayList<>();
            args.add("/opt/sandboxd/jre/bin/java");
            for (String f : v.jvmFlags()) {
                if (f.startsWith("-XX:AOTCache=")) {
                    Path cache = Path.of(f.substring("-XX:AOTCache=".length())).toAbsolutePath();
                    aotDir = cache.getParent().toString();
                    args.add("-XX:AOTCache=/opt/sandboxd/envd-aot/" + cache.getFileName());
                } else {
                    args.add(f);
                }
            }
            args.addAll(List.of("-jar", "/opt/sandboxd/envd.jar", "--port", String.valueOf(port), "--bind",
                    "127.0.0.1"));
            args.addAll(v.envdArgs());
            List<String> mounts = new ArrayList<>(List.of(
                    mount("/proc", "proc", "proc"),
                    mount("/dev", "tmpfs", "tmpfs", "nosuid", "mode=755", "size=65536k"),
                    mount("/tmp", "tmpfs", "tmpfs", "nosuid", "nodev"),
                    mount("/usr", "bind", "/usr", "rbind", "ro"),
                    mount("/etc", "bind", "/etc", "rbind", "ro"),
                    mount("/opt/sandboxd/jre", "bind", javaHome, "rbind", "ro", "nosuid", "nodev"),
                    mount("/opt/sandboxd/envd.jar", "bind", jar.toString(), "bind", "ro", "nosuid", "nodev")));
            if (aotDir != null) {
                mounts.add(mount("/opt/sandboxd/envd-aot", "bind", aotDir, "bind", "ro", "nosuid", "nodev", "noexec"));
            }
            String caps = json(List.of("CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_SETGID", "CAP_SETUID",
                    "CAP_KILL"));
            String config = "{\"ociVersion\":\"1.0.2\",\"process\":{\"terminal\":false,\"user\":{\"uid\":0,\"gid\":0},"
                    + "\"args\":" + json(args) + ",\"env\":" + json(List.of(
                            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root",
                            "JAVA_HOME=/opt/sandboxd/jre", "LANG=C.UTF-8"))
                    + ",\"cwd\":\"/\",\"capabilities\":{\"bounding\":" + caps + ",\"effective\":" + caps
                    + ",\"permitted\":" + caps + "}},"
                    + "\"root\":{\"path\":\"" + rootfs + "\",\"readonly\":false},\"hostname\":\"boot\","
                    + "\"mounts\":[" + String.join(",", mounts) + "],"
                    + "\"linux\":{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"ipc\"},{\"type\":\"uts\"},{\"type\":\"mount\"}],"
                    + "\"cgroupsPath\":\"/" + CGROUP_PARENT + "/" + id + "\","
                    + "\"resources\":{\"memory\":{\"limit\":" + (512L << 20) + "},"
                    + "\"cpu\":{\"quota\":200000,\"period\":100000},\"pids\":{\"limit\":4096}}}}";
            Files.writeString(bundle.resolve("config.json"), config);
            Process p = new ProcessBuilder("runc", "--root", root.toString(), "run", "--bundle", bundle.toString(), id)
                    .redirectErrorStream(true).redirectOutput(log.toFile()).redirectInput(ProcessBuilder.Redirect.PIPE)
                    .start();
            return new Envd() {
                private long pid = -1;

                public Process process() {
                    return p;
                }

                public long pid() throws IOException {
                    if (pid < 0) {
                        String state = run("runc", "--root", root.toString(), "state", id);
                        java.util.regex.Matcher m = java.util.regex.Pattern.compile("\"pid\":\\s*(\\d+)").matcher(state);
                        if (!m.find()) {
                            throw new IOException("no pid in runc state: " + state);
                        }
                        pid = Long.parseLong(m.group(1));
                    }
                    return pid;
                }

                public long cpuNanos() throws IOException {
                    return Long.parseLong(Files.readString(Path.of("/sys/fs/cgroup/cpuacct", CGROUP_PARENT, id,
                            "cpuacct.usage")).trim());
                }

                public void stop() throws Exception {
                    run("runc", "--root", root.toString(), "kill", id, "KILL");
                    if (!p.waitFor(10, TimeUnit.SECONDS)) {
                        p.destroyForcibly().waitFor();
                    }
                    run("runc", "--root", root.toString(), "delete", "-f", id);
                }
            };
        }

        @Override
        public void close() throws IOException {
            for (String controller : List.of("cpu", "cpuacct", "memory", "pids", "devices", "freezer", "blkio",
                    "cpuset", "systemd")) {
                Files.deleteIfExists(Path.of("/sys/fs/cgroup", controller, CGROUP_PARENT));
            }
        }

        private static String mount(String dest, String type, String source, String... options) {
            return "{\"destination\":\"" + dest + "\",\"type\":\"" + type + "\",\"source\":\"" + source
                    + "\",\"options\":" + json(List.of(options)) + "}";
        }

        private static String json(List<String> strings) {
            List<String> quoted = new ArrayList<>();
            for (String x : strings) {
                if (x.contains("\"") || x.contains("\\")) {
                    throw new IllegalArgumentException("no quotes or backslashes in runc arguments: " + x);
                }
                quoted.add("\"" + x + "\"");
            }
            return "[" + String.join(",", quoted) + "]";
        }

        private static String run(String... cmd) throws IOException {
            try {
                Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
                String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                p.waitFor(30, TimeUnit.SECONDS);
                return out;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException(e);
            }
        }
    }

    private static boolean healthy(InetSocketAddress addr) {
        try (Socket s = new Socket()) {
            s.connect(addr, 1000);
            s.setSoTimeout(5000);
            s.getOutputStream().write("GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
                    .getBytes(StandardCharsets.US_ASCII));
            byte[] head = s.getInputStream().readNBytes(12);
            return new String(head, StandardCharsets.US_ASCII).startsWith("HTTP/1.1 2");
        } catch (IOException e) {
            return false;
        }
    }

    /** One {@code Start} of {@code /bin/true} as a Connect server stream; returns the whole response. */
    private static String start(InetSocketAddress addr) throws IOException {
        byte[] json = START_BODY.getBytes(StandardCharsets.UTF_8);
        byte[] body = ByteBuffer.allocate(5 + json.length).put((byte) 0).putInt(json.length).put(json).array();
        try (Socket s = new Socket()) {
            s.connect(addr, 2000);
            s.setSoTimeout(30_000);
            OutputStream out = s.getOutputStream();
            out.write(("POST /process.Process/Start HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
                    + "Content-Type: application/connect+json\r\nConnect-Protocol-Version: 1\r\n"
                    + "Content-Length: " + body.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            out.write(body);
            out.flush();
            InputStream in = s.getInputStream();
            ByteArrayOutputStream all = new ByteArrayOutputStream();
            in.transferTo(all);
            return all.toString(StandardCharsets.ISO_8859_1);
        }
    }

    /** utime + stime + cutime + cstime of {@code pid}. */
    static long cpuNanos(long pid) throws IOException {
        String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        // fields after the comm: index 0 is field 3 (state); utime is field 14
        long ticks = Long.parseLong(f[11]) + Long.parseLong(f[12]) + Long.parseLong(f[13]) + Long.parseLong(f[14]);
        return ticks * CLK_TCK_NANOS;
    }

    /** {Rss, Pss} in KiB. */
    static long[] rssPss(long pid) throws IOException {
        long rss = -1;
        long pss = -1;
        for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/smaps_rollup"))) {
            if (line.startsWith("Rss:")) {
                rss = kb(line);
            } else if (line.startsWith("Pss:")) {
                pss = kb(line);
            }
        }
        return new long[] {rss, pss};
    }

    private static long kb(String line) {
        return Long.parseLong(line.replaceAll("[^0-9]", ""));
    }

    private static String loadAverage() {
        try {
            return Files.readString(Path.of("/proc/loadavg")).trim();
        } catch (IOException e) {
            return "?";
        }
    }

    private static double p50(List<Sample> s, java.util.function.ToDoubleFunction<Sample> f) {
        double[] v = s.stream().mapToDouble(f).sorted().toArray();
        return v.length == 0 ? Double.NaN : v[(v.length - 1) / 2];
    }

    private static double max(List<Sample> s, java.util.function.ToDoubleFunction<Sample> f) {
        return s.stream().mapToDouble(f).max().orElse(Double.NaN);
    }

    private static double mean(List<Sample> s, java.util.function.ToDoubleFunction<Sample> f) {
        return s.stream().mapToDouble(f).average().orElse(Double.NaN);
    }
}
