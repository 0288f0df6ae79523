package io.sandboxd.bench;

import io.sandboxd.daemon.network.NetworkConfig;
import io.sandboxd.daemon.host.DirectoryTrees;
import io.sandboxd.daemon.runtime.RunningSandbox;
import io.sandboxd.daemon.runtime.jail.JailSandbox;
import io.sandboxd.daemon.runtime.SandboxSpec;
import io.sandboxd.daemon.runtime.jail.JailConfig;
import io.sandboxd.daemon.runtime.jail.JailRuntime;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Measures the jail runtime on this host and prints a table: create from a warm pool (until {@code create}
 * returns, and until envd answers {@code GET /health}), create with an empty pool, and the memory and disk an
 * idle jail costs. Uses the real {@code base} template (built on first use, cached in the data directory) and
 * the real envd jar.
 *
 * <pre>
 * ./mvnw -q -pl bench -am -DskipTests package
 * java -cp daemon/target/sandboxd.jar:bench/target/classes io.sandboxd.bench.JailCreateRunner \
 *     --data-dir /var/lib/sandboxd-bench --envd-jar envd/target/envd.jar --iterations 30
 * </pre>
 */
public final class JailCreateRunner {
    private JailCreateRunner() {
    }

    public static void main(String[] args) throws Exception {
        Path dataDir = Path.of(arg(args, "--data-dir", "/var/lib/sandboxd-bench"));
        Path envdJar = Path.of(arg(args, "--envd-jar", "envd/target/envd.jar")).toAbsolutePath();
        int iterations = Integer.parseInt(arg(args, "--iterations", "30"));
        int coldIterations = Integer.parseInt(arg(args, "--cold-iterations", "5"));
        int idle = Integer.parseInt(arg(args, "--idle", "5"));
        if (!Files.isRegularFile(envdJar)) {
            System.err.println("envd jar not found at " + envdJar + ": build it with ./mvnw -pl envd -am package, or pass --envd-jar");
            System.exit(2);
        }
        NetworkConfig net = NetworkConfig.defaults().withNamePrefix("sbxm").withSubnet("10.16.0.0/16");
        JailConfig base = JailConfig.defaults(dataDir, envdJar).withRuncRoot(dataDir.resolve("runc"))
                .withCgroupParent("sandboxd-bench").withNetwork(net);

        List<String[]> rows = new ArrayList<>();
        try (JailRuntime rt = JailRuntime.start(base.withPoolSize(1))) {
            rt.reconcile();
            long t0 = System.nanoTime();
            rt.prepareTemplate("base", line -> { });
            System.err.printf("base template ready in %.1f s%n", (System.nanoTime() - t0) / 1e9);
            rt.awaitPoolFull("base", Duration.ofSeconds(120));
            // Untimed rounds: load this JVM's HTTP client and the runtime's code paths before measuring.
            for (int i = 0; i < 3; i++) {
                rt.awaitPoolFull("base", Duration.ofSeconds(120));
                RunningSandbox warm = rt.create(new SandboxSpec("warmup" + i, "base", 2, 512, Map.of(), false));
                awaitHealth(warm);
                warm.kill();
            }
            double[] create = new double[iterations];
            double[] ready = new double[iterations];
            for (int i = 0; i < iterations; i++) {
                if (!rt.awaitPoolFull("base", Duration.ofSeconds(120))) {
                    throw new IllegalStateException("pool did not refill; errors: " + rt.poolErrors());
                }
                String id = "warm" + i;
                long s = System.nanoTime();
                RunningSandbox sb = rt.create(new SandboxSpec(id, "base", 2, 512, Map.of(), false));
                long created = System.nanoTime();
                awaitHealth(sb);
                long healthy = System.nanoTime();
                create[i] = (created - s) / 1e6;
                ready[i] = (healthy - s) / 1e6;
                sb.kill();
            }
            rows.add(row("warm pool: create returns", create));
            rows.add(row("warm pool: create -> envd /health 2xx", ready));

            // Idle cost: several claimed jails doing nothing, measured from their cgroups and upper dirs.
            List<JailSandbox> ids = new ArrayList<>();
            for (int i = 0; i < idle; i++) {
                rt.awaitPoolFull("base", Duration.ofSeconds(120));
                String id = "idle" + i;
                JailSandbox sb = rt.create(new SandboxSpec(id, "base", 2, 512, Map.of(), false));
                awaitHealth(sb);
                ids.add(sb);
            }
            Thread.sleep(2000);
            double[] rss = new double[idle];
            double[] used = new double[idle];
            double[] disk = new double[idle];
            for (int i = 0; i < idle; i++) {
                String jail = ids.get(i).runtimeId();
                rss[i] = memoryStat(Path.of("/sys/fs/cgroup/memory", base.cgroupParent(), jail), "total_rss") / 1048576.0;
                used[i] = ids.get(i).stats().memUsed() / 1048576.0;
                disk[i] = DirectoryTrees.sizeOf(dataDir.resolve("sandboxes").resolve(jail).resolve("upper")) / 1048576.0;
            }
            ids.forEach(JailSandbox::kill);
            rows.add(row("idle jail RSS (cgroup total_rss), MiB", rss));
            rows.add(row("idle jail memory used (stats), MiB", used));
            rows.add(row("idle jail disk (overlay upper), MiB", disk));
        }

        try (JailRuntime rt = JailRuntime.start(base.withPoolSize(0))) {
            rt.prepareTemplate("base", line -> { });
            double[] cold = new double[coldIterations];
            for (int i = 0; i < coldIterations; i++) {
                String id = "cold" + i;
                long s = System.nanoTime();
                RunningSandbox sb = rt.create(new SandboxSpec(id, "base", 2, 512, Map.of(), false));
                awaitHealth(sb);
                cold[i] = (System.nanoTime() - s) / 1e6;
                sb.kill();
            }
            rows.add(row("empty pool: create -> envd /health 2xx", cold));
        }

        System.out.printf("%-42s %6s %10s %10s %10s%n", "jail runtime (" + Runtime.getRuntime().availableProcessors() + " cores)",
                "n", "p50", "p99", "max");
        for (String[] r : rows) {
            System.out.printf("%-42s %6s %10s %10s %10s%n", (Object[]) r);
        }
        System.out.println("(latencies in ms)");
    }

    private static void awaitHealth(RunningSandbox sb) throws InterruptedException {
        HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
        URI uri = URI.create("http://" + sb.envdAddress().getAddress().getHostAddress() + ":" + sb.envdAddress().getPort() + "/health");
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (System.nanoTime() < deadline) {
            try {
                HttpResponse<Void> r = client.send(HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(5)).build(),
                        HttpResponse.BodyHandlers.discarding());
                if (r.statusCode() / 100 == 2) {
                    return;
                }
            } catch (IOException notYet) {
                // envd not listening yet (cold path)
            }
            Thread.sleep(5);
        }
        throw new IllegalStateException("envd of " + sb.sandboxId() + " did not answer /health");
    }

    private static long memoryStat(Path cgroup, String key) throws IOException {
        for (String line : Files.readAllLines(cgroup.resolve("memory.stat"))) {
            String[] f = line.split(" ");
            if (f[0].equals(key)) {
                return Long.parseLong(f[1]);
            }
        }
        throw new IllegalStateException("no " + key + " in " + cgroup.resolve("memory.stat"));
    }

    private static String[] row(String name, double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return new String[]{name, String.valueOf(s.length), fmt(pct(s, 0.50)), fmt(pct(s, 0.99)), fmt(s[s.length - 1])};
    }

    private static double pct(double[] sorted, double p) {
        int i = (int) Math.ceil(p * sorted.length) - 1;
        return sorted[Math.max(0, Math.min(sorted.length - 1, i))];
    }

    private static String fmt(double d) {
        return String.format("%.1f", d);
    }

    private static String arg(String[] args, String name, String def) {
        for (int i = 0; i < args.length - 1; i++) {
            if (args[i].equals(name)) {
                return args[i + 1];
            }
        }
        return def;
    }
}
