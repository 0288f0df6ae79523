package io.sandboxd.bench.nbd;

import io.sandboxd.block.cow.Overlay;
import io.sandboxd.block.layer.LayeredImage;
import io.sandboxd.block.nbd.Export;
import io.sandboxd.block.nbd.NbdLimits;
import io.sandboxd.block.nbd.NbdServer;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;

/**
 * Side-by-side throughput of our NBD server and Debian's {@code nbdkit file}, same image content, same client, same
 * run: fio's {@code nbd} engine (libnbd) for all four rows, so the client is identical and only the server differs.
 *
 * <ul>
 *   <li>ours: the image as a read-only base under a fresh copy-on-write overlay (the sandbox configuration), so
 *       reads of unwritten blocks fall through to the image and writes allocate overlay blocks;</li>
 *   <li>nbdkit: {@code nbdkit file} on a copy of the image, written in place (its default thread model, 16 threads).</li>
 * </ul>
 * Rounds alternate between the servers and the table shows the median of each and the median of the per-round
 * ratios (both servers of a round run back to back, under nearly the same load), because this machine is shared.
 *
 * <p>Two phases. Reads first, on the fresh overlay, so they fall through to the base image (the sandbox's
 * steady state right after create). Then, before the write rows, one untimed sequential write pass over the
 * whole image on both servers: the first write into any sparse file pays the filesystem's block allocation
 * (measured here: nbdkit on a fresh sparse file 221 MiB/s, on the allocated copy 767-1530 MiB/s; our fresh
 * overlay 245 MiB/s), and nbdkit's image is fully allocated by the copy, so without the pass the write rows
 * would compare allocation against overwrite rather than server against server.
 *
 * <p>Run with {@code bench/run-nbd.sh [--size-mib N] [--seconds S] [--rounds R] [--dir DIR]}.
 */
public final class NbdComparison {
    record Row(String name, String rw, String bs, int iodepth) {
    }

    static final List<Row> ROWS = List.of(
            new Row("sequential read, 1 MiB, QD 8", "read", "1M", 8),
            new Row("random read, 4 KiB, QD 32", "randread", "4k", 32),
            new Row("sequential write, 1 MiB, QD 8", "write", "1M", 8),
            new Row("random write, 4 KiB, QD 32", "randwrite", "4k", 32));

    private NbdComparison() {
    }

    public static void main(String[] args) throws Exception {
        long sizeMib = 1024;
        int seconds = 4;
        int rounds = 5;
        Path dir = Path.of("/tmp/sandboxd-nbd-bench");
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--size-mib" -> sizeMib = Long.parseLong(args[++i]);
                case "--seconds" -> seconds = Integer.parseInt(args[++i]);
                case "--rounds" -> rounds = Integer.parseInt(args[++i]);
                case "--dir" -> dir = Path.of(args[++i]);
                default -> throw new IllegalArgumentException("unknown argument " + args[i]
                        + " (use --size-mib N --seconds S --rounds R --dir DIR)");
            }
        }
        for (String tool : List.of("fio", "nbdkit")) {
            if (run(List.of("sh", "-c", "command -v " + tool), null) != 0) {
                System.err.println(tool + " is not installed: apt-get install -y fio nbdkit libnbd-bin");
                System.exit(2);
            }
        }
        Files.createDirectories(dir);
        Path image = dir.resolve("image.img");
        Path nbdkitImage = dir.resolve("nbdkit.img");
        long size = sizeMib << 20;
        makeImage(image, size);
        Files.deleteIfExists(nbdkitImage);
        if (run(List.of("cp", image.toString(), nbdkitImage.toString()), null) != 0) {
            throw new IOException("cp failed");
        }
        Path overlayPath = dir.resolve("overlay");
        Files.deleteIfExists(overlayPath);
        Files.deleteIfExists(Overlay.mapPath(overlayPath));

        double[][] ours = new double[ROWS.size()][rounds];
        double[][] theirs = new double[ROWS.size()][rounds];
        try (LayeredImage base = LayeredImage.raw(image, 4096);
                Overlay overlay = Overlay.create(overlayPath, base);
                NbdServer server = NbdServer.start(new InetSocketAddress("127.0.0.1", 0),
                        List.of(new Export("bench", "benchmark overlay", overlay)), NbdLimits.DEFAULT)) {
            int nbdkitPort = freePort();
            Process nbdkit = new ProcessBuilder("nbdkit", "-f", "-p", Integer.toString(nbdkitPort), "file",
                    nbdkitImage.toString()).redirectErrorStream(true).redirectOutput(dir.resolve("nbdkit.log").toFile())
                    .start();
            try {
                awaitPort(nbdkitPort);
                String oursUri = "nbd://127.0.0.1:" + server.port() + "/bench";
                String theirsUri = "nbd://127.0.0.1:" + nbdkitPort + "/";
                System.out.printf("image %d MiB in %s; fio %ds per run, %d rounds, median shown; load average %s%n",
                        sizeMib, dir, seconds, rounds, loadAverage());
                // Page cache warm for both image files, and our JIT warm (C2 was still compiling the request path
                // during the first seconds of load: perf showed the compiler threads as the only user time), before
                // anything is timed. Both servers get the same warm-up.
                fio(oursUri, new Row("warm-up read", "read", "1M", 8), 0, size, dir);
                fio(theirsUri, new Row("warm-up read", "read", "1M", 8), 0, size, dir);
                for (String uri : List.of(oursUri, theirsUri)) {
                    fio(uri, new Row("warm-up", "randread", "4k", 32), seconds, size, dir);
                }
                for (int phase = 0; phase < 2; phase++) {
                    if (phase == 1) {
                        System.out.println("  (untimed write pass over the whole image on both servers)");
                        fio(oursUri, new Row("allocate", "write", "1M", 8), 0, size, dir);
                        fio(theirsUri, new Row("allocate", "write", "1M", 8), 0, size, dir);
                        for (String uri : List.of(oursUri, theirsUri)) {
                            fio(uri, new Row("warm-up", "randwrite", "4k", 32), seconds, size, dir);
                        }
                    }
                for (int round = 0; round < rounds; round++) {
                    for (int r = phase * 2; r < phase * 2 + 2; r++) {
                        boolean oursFirst = (round + r) % 2 == 0;
                        double a = oursFirst ? fio(oursUri, ROWS.get(r), seconds, size, dir) : 0;
                        double b = fio(theirsUri, ROWS.get(r), seconds, size, dir);
                        if (!oursFirst) {
                            a = fio(oursUri, ROWS.get(r), seconds, size, dir);
                        }
                        ours[r][round] = a;
                        theirs[r][round] = b;
                        System.out.printf("  round %d  %-32s sandboxd %8.1f MiB/s   nbdkit %8.1f MiB/s%n", round + 1,
                                ROWS.get(r).name(), a, b);
                    }
                }
                }
            } finally {
                nbdkit.destroy();
                nbdkit.waitFor(10, TimeUnit.SECONDS);
            }
        }
        System.out.println();
        System.out.println("load average at the end: " + loadAverage() + " (other processes on this machine skew both servers)");
        // Each round runs both servers back to back, so the ratio within a round sees (nearly) the same load: its
        // median is the steadier figure on a shared machine; the ratio of the two medians is kept beside it.
        System.out.println("| Workload (fio nbd engine, 1 job) | sandboxd MiB/s | nbdkit file MiB/s | sandboxd / nbdkit"
                + " | median of per-round ratios |");
        System.out.println("|---|---:|---:|---:|---:|");
        for (int r = 0; r < ROWS.size(); r++) {
            double a = median(ours[r]);
            double b = median(theirs[r]);
            double[] ratios = new double[rounds];
            for (int i = 0; i < rounds; i++) {
                ratios[i] = ours[r][i] / theirs[r][i];
            }
            System.out.printf("| %s | %.1f | %.1f | %.2fx | %.2fx |%n", ROWS.get(r).name(), a, b, a / b,
                    median(ratios));
        }
    }

    /** The 1, 5 and 15 minute load averages, as {@code uptime} prints them. */
    static String loadAverage() {
        try {
            String[] f = Files.readString(Path.of("/proc/loadavg")).trim().split(" ");
            return f[0] + " " + f[1] + " " + f[2];
        } catch (IOException e) {
            return "unknown (" + e.getMessage() + ")";
        }
    }

    /** An image filled with random bytes (so neither server can skip holes), reused across runs when its size fits. */
    static void makeImage(Path image, long size) throws IOException {
        if (Files.exists(image) && Files.size(image) == size) {
            return;
        }
        try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
            f.setLength(0);
            byte[] chunk = new byte[1 << 20];
            Random r = new Random(42);
            for (long at = 0; at < size; at += chunk.length) {
                r.nextBytes(chunk);
                f.write(chunk, 0, (int) Math.min(chunk.length, size - at));
            }
        }
    }

    /** One fio run; returns MiB/s (read plus write bandwidth from fio's terse output). */
    static double fio(String uri, Row row, int seconds, long size, Path dir) throws IOException, InterruptedException {
        Path out = dir.resolve("fio.out");
        Files.deleteIfExists(out);
        List<String> cmd = new java.util.ArrayList<>(List.of("fio", "--name=nbd", "--ioengine=nbd", "--uri=" + uri,
                "--rw=" + row.rw(), "--bs=" + row.bs(), "--iodepth=" + row.iodepth(), "--size=" + size,
                "--randrepeat=1", "--output-format=terse", "--terse-version=3", "--output=" + out));
        if (seconds > 0) {
            cmd.addAll(List.of("--runtime=" + seconds, "--time_based")); // else: one pass over the image
        }
        int exit = run(cmd, dir.resolve("fio.log"));
        String terse = Files.exists(out) ? Files.readString(out, StandardCharsets.UTF_8).trim() : "";
        String[] f = terse.split(";");
        if (exit != 0 || f.length < 48) {
            throw new IOException("fio failed (exit " + exit + "): " + String.join(" ", cmd) + "\n"
                    + Files.readString(dir.resolve("fio.log")) + terse);
        }
        // terse v3: field 7 is read bandwidth, field 48 write bandwidth, both KiB/s (1-based).
        return (Double.parseDouble(f[6]) + Double.parseDouble(f[47])) / 1024.0;
    }

    static int run(List<String> cmd, Path log) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.redirectOutput(log == null ? ProcessBuilder.Redirect.DISCARD : ProcessBuilder.Redirect.to(log.toFile()));
        Process p = pb.start();
        if (!p.waitFor(600, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException(String.join(" ", cmd) + " timed out");
        }
        return p.exitValue();
    }

    static int freePort() throws IOException {
        try (var s = new java.net.ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    static void awaitPort(int port) throws IOException, InterruptedException {
        for (int i = 0; i < 200; i++) {
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress("127.0.0.1", port), 100);
                return;
            } catch (IOException notYet) {
                Thread.sleep(50);
            }
        }
        throw new IOException("nbdkit did not start listening on " + port);
    }

    static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }
}
