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
 * a {@code |} in it go after the jar (envd's own options).
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
        List<Variant> variants = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--java" -> java = args[++i];
                case "--jar" -> jar = Path.of(args[++i]);
                case "--rounds" -> rounds = Integer.parseInt(args[++i]);
                case "--count" -> count = Integer.parseInt(args[++i]);
                case "--base-port" -> basePort = Integer.parseInt(args[++i]);
                case "--settle-ms" -> settleMs = Long.parseLong(args[++i]);
                case "--variant" -> variants.add(parseVariant(args[++i]));
                default -> throw new IllegalArgumentException("unknown argument " + args[i]
                        + " (--java --jar --rounds --count --base-port --settle-ms --variant name=flags[|envd args])");
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
        System.out.printf("java %s, jar %s, %d rounds x %d envds per variant, logs in %s, load %s%n", java, jar,
                rounds, count, logs, loadAverage());
        for (int r = 0; r < rounds; r++) {
            // alternate the order too, so neither variant always runs right after the other's teardown
            List<Variant> order = new ArrayList<>(variants);
            if (r % 2 == 1) {
                Collections.reverse(order);
            }
            for (Variant v : order) {
                List<Sample> s = round(java, jar, v, count, basePort, settleMs,
                        logs.resolve(v.name() + "-" + r));
                results.get(v.name()).addAll(s);
                System.out.printf("round %d %-10s ready p50 %6.0f ms  cpu p50 %6.0f ms  first Start p50 %5.1f ms  "
                                + "PSS %6.1f MiB%n", r, v.name(), p50(s, Sample::readyMs), p50(s, Sample::cpuMs),
                        p50(s, Sample::firstStartMs), mean(s, x -> x.pssKb() / 1024.0));
            }
        }
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
    static List<Sample> round(String java, Path jar, Variant v, int count, int basePort, long settleMs,
                              Path logPrefix) throws Exception {
        List<Process> procs = new ArrayList<>();
        double[] ready = new double[count];
        double[] cpu = new double[count];
        double[] first = new double[count];
        long[][] mem = new long[count][];
        long[][] memAfter = new long[count][];
        try {
            for (int i = 0; i < count; i++) {
                int port = basePort + i;
                List<String> cmd = new ArrayList<>();
                cmd.add(java);
                cmd.addAll(v.jvmFlags());
                cmd.addAll(List.of("-jar", jar.toString(), "--port", String.valueOf(port), "--bind", "127.0.0.1"));
                cmd.addAll(v.envdArgs());
                ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true)
                        .redirectOutput(Path.of(logPrefix + "-" + i + ".log").toFile());
                long t0 = System.nanoTime();
                Process p = pb.start();
                procs.add(p);
                InetSocketAddress addr = new InetSocketAddress("127.0.0.1", port);
                while (!healthy(addr)) {
                    if (!p.isAlive()) {
                        throw new IllegalStateException(v.name() + ": envd exited with " + p.exitValue() + ", see "
                                + logPrefix + "-" + i + ".log");
                    }
                    if (System.nanoTime() - t0 > TimeUnit.SECONDS.toNanos(60)) {
                        throw new IllegalStateException(v.name() + ": envd not ready in 60 s");
                    }
                    Thread.sleep(2);
                }
                ready[i] = (System.nanoTime() - t0) / 1e6;
                cpu[i] = cpuNanos(p.pid()) / 1e6;
            }
            Thread.sleep(settleMs);
            for (int i = 0; i < count; i++) {
                mem[i] = rssPss(procs.get(i).pid());
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
                memAfter[i] = rssPss(procs.get(i).pid());
            }
        } finally {
            for (Process p : procs) {
                p.destroy();
            }
            for (Process p : procs) {
                if (!p.waitFor(10, TimeUnit.SECONDS)) {
                    p.destroyForcibly().waitFor();
                }
            }
        }
        List<Sample> out = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            out.add(new Sample(ready[i], cpu[i], first[i], mem[i][0], mem[i][1], memAfter[i][0], memAfter[i][1]));
        }
        return out;
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
