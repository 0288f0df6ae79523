package io.sandboxd.bench;

import io.sandboxd.ffi.Libc;
import io.sandboxd.ffi.Userfaultfd;
import io.sandboxd.vmm.kvm.KvmSystem;
import io.sandboxd.vmm.kvm.Vm;
import io.sandboxd.vmm.memory.MappedGuestMemory;
import io.sandboxd.vmm.memory.MemoryBackends;
import io.sandboxd.vmm.memory.MemoryOptions;
import io.sandboxd.vmm.snapshot.LayerWriter;
import io.sandboxd.vmm.snapshot.MemoryImage;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The side-by-side restore runner: compiles and runs the C floor ({@code shared/bench/floor.c}) and, in the same
 * run on the same files, the Java equivalents, then prints one table with p50/p99 and the ratio to the floor.
 *
 * <p>Usage: {@code RestoreComparison <floor.c> [--sizes 128,1024,4096] [--iterations 50] [--rounds 3]} (bench/run-restore.sh
 * finds floor.c and builds the classpath).
 */
public final class RestoreComparison {
    private static final Path FLOOR_DIR = Path.of("/tmp/cb");
    private static final Path FLOOR_IMAGE = FLOOR_DIR.resolve("mem.img");

    private record Row(String metric, double floor, double p50, double p99, String unit, String target) {
    }

    private RestoreComparison() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length < 1) {
            System.err.println("usage: RestoreComparison <path to floor.c> [--sizes 128,1024] [--iterations 50]");
            System.exit(2);
        }
        Path floorSource = Path.of(args[0]);
        int[] sizes = {128, 1024};
        int iterations = 50;
        int rounds = 3;
        for (int i = 1; i + 1 < args.length; i += 2) {
            switch (args[i]) {
                case "--sizes" -> sizes = Arrays.stream(args[i + 1].split(",")).mapToInt(Integer::parseInt).toArray();
                case "--iterations" -> iterations = Integer.parseInt(args[i + 1]);
                case "--rounds" -> rounds = Integer.parseInt(args[i + 1]);
                default -> throw new IllegalArgumentException("unknown option " + args[i]);
            }
        }
        String unavailable = KvmSystem.unavailableReason().orElse(null);
        if (unavailable != null) {
            throw new IllegalStateException("the restore comparison needs /dev/kvm: " + unavailable);
        }

        // The machine is shared and its load moves: C and Java are measured in alternating rounds, so both see
        // the same conditions. The floor's p50 is the median of its rounds' p50s; Java samples are pooled.
        List<Double> floorRestores = new ArrayList<>();
        List<Double> floorFaults = new ArrayList<>();
        Samples equivalent = new Samples();
        java.util.Map<String, Samples> restores = new java.util.LinkedHashMap<>();
        Samples faults = new Samples();
        try (KvmSystem kvm = KvmSystem.open()) {
            for (int mib : sizes) {
                RestorePath.recordWorkingSet(kvm, BenchImages.restoreImage(mib));
            }
            System.out.println("== warming up the JIT");
            floorEquivalent(kvm, 100, new Samples());
            for (MemoryBackends b : new MemoryBackends[] {MemoryBackends.PRIVATE_MAP, MemoryBackends.UFFD}) {
                restore(kvm, b, BenchImages.restoreImage(sizes[0]), 100, new Samples());
            }
            for (int round = 1; round <= rounds; round++) {
                System.out.println("== round " + round + ": C floor (" + floorSource + ")");
                String floorOut = runFloor(floorSource);
                System.out.print(floorOut);
                floorRestores.add(number(floorOut, "restore-floor.*?p50 ([0-9.]+) ms"));
                floorFaults.add(number(floorOut, "uffd fault served by UFFDIO_COPY: ([0-9.]+) us/fault"));
                System.out.println("== round " + round + ": Java");
                floorEquivalent(kvm, 30, equivalent);
                for (int mib : sizes) {
                    for (MemoryBackends b : MemoryBackends.values()) {
                        boolean eager = b == MemoryBackends.EAGER;
                        restore(kvm, b, BenchImages.restoreImage(mib), eager ? Math.max(3, iterations / 10) : iterations,
                                restores.computeIfAbsent(b.id() + " " + mib, k -> new Samples()));
                        if (!eager && mib == 1024) {
                            pooled(kvm, b, BenchImages.restoreImage(mib), iterations,
                                    restores.computeIfAbsent(b.id() + " " + mib + " pooled", k -> new Samples()));
                        }
                    }
                }
                faultService(faults);
            }
        }
        double floorRestore = median(floorRestores);
        double floorFault = median(floorFaults);
        List<Row> rows = new ArrayList<>();
        rows.add(new Row("vm+vcpu+1GiB MAP_PRIVATE slot (the floor's steps)", floorRestore, equivalent.p50(),
                equivalent.p99(), "ms", "<= 1.5x"));
        restores.forEach((key, samples) -> {
            String[] k = key.split(" ");
            int mib = Integer.parseInt(k[1]);
            boolean pooled = k.length > 2;
            String target = k[0].equals("eager") || mib > 1024 || pooled ? "-" : "p50 <= 1 ms, <= 1.5x";
            rows.add(new Row("restore " + k[0] + " " + mib + " MiB: " + (pooled ? "pooled VM shell + memory+slot+state+1st insn"
                    : "memory+vm+vcpu+slot+state+1st insn"), floorRestore, samples.p50(), samples.p99(), "ms", target));
        });
        rows.add(new Row("uffd fault served (UFFDIO_COPY), per 4 KiB fault", floorFault, faults.p50(), faults.p99(), "us",
                "<= 1.2x"));
        Samples snap = snapshotPerDirtyMiB(16, 5);
        rows.add(new Row("diff snapshot of 1 GiB uffd memory, per dirty MiB (16 MiB dirty)", Double.NaN, snap.p50(),
                snap.p99(), "ms", "-"));
        System.out.println("\nload average: " + Files.readString(Path.of("/proc/loadavg")).trim() + "; C floor p50s (ms) "
                + floorRestores + ", per fault (us) " + floorFaults);
        print(rows);
    }

    /** Samples of one measurement, pooled across rounds. */
    private static final class Samples {
        private final List<Double> values = new ArrayList<>();

        void add(double v) {
            values.add(v);
        }

        double p50() {
            return percentile(0.50);
        }

        double p99() {
            return percentile(0.99);
        }

        private double percentile(double q) {
            double[] s = values.stream().mapToDouble(Double::doubleValue).sorted().toArray();
            return s[Math.min(s.length - 1, Math.max(0, (int) Math.ceil(s.length * q) - 1))];
        }
    }

    private static double median(List<Double> values) {
        double[] s = values.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        return s[(s.length - 1) / 2];
    }

    /** Compiles floor.c next to the classes' working dir and runs it; it writes /tmp/cb/mem.img (1 GiB). */
    private static String runFloor(Path source) throws IOException, InterruptedException {
        if (!Files.isRegularFile(source)) {
            throw new IOException("no C floor at " + source + " (pass the path to shared/bench/floor.c)");
        }
        Files.createDirectories(FLOOR_DIR);
        Path exe = Files.createTempDirectory("sandboxd-floor").resolve("floor");
        exec(List.of("gcc", "-O2", "-pthread", "-o", exe.toString(), source.toString()), 120);
        try {
            return exec(List.of(exe.toString()), 600);
        } finally {
            Files.deleteIfExists(exe);
            Files.deleteIfExists(exe.getParent());
        }
    }

    /** Exactly floor.c's timed steps, in Java: VM, MAP_PRIVATE of its 1 GiB file, slot, vCPU. */
    private static void floorEquivalent(KvmSystem kvm, int n, Samples out) {
        long size = 1L << 30;
        int fd = Libc.open(FLOOR_IMAGE.toString(), Libc.O_RDWR | Libc.O_CLOEXEC);
        try {
            for (int i = 0; i < n; i++) {
                long t0 = System.nanoTime();
                Vm vm = kvm.createVm();
                MemorySegment m = Libc.mmap(MemorySegment.NULL, size, Libc.PROT_READ | Libc.PROT_WRITE,
                        Libc.MAP_PRIVATE | Libc.MAP_NORESERVE, fd, 0);
                vm.addMemory(0, m, false);
                vm.createVcpu(0);
                long el = System.nanoTime() - t0;
                vm.close();
                Libc.munmap(m);
                out.add(el / 1e6);
            }
        } finally {
            Libc.close(fd);
        }
    }

    private static void restore(KvmSystem kvm, MemoryBackends backend, MemoryImage image, int n, Samples out)
            throws IOException {
        for (int i = 0; i < n; i++) {
            long t0 = System.nanoTime();
            RestorePath.Restored r = RestorePath.restore(kvm, backend, image);
            long el = System.nanoTime() - t0;
            r.close();
            out.add(el / 1e6);
        }
    }

    /** Restores into VM shells made beforehand (untimed), as the orchestrator's pool provides them. */
    private static void pooled(KvmSystem kvm, MemoryBackends backend, MemoryImage image, int n, Samples out)
            throws IOException {
        for (int i = 0; i < n; i++) {
            Vm shell = RestorePath.shell(kvm);
            long t0 = System.nanoTime();
            RestorePath.Restored r = RestorePath.restore(shell, kvm, backend, image);
            long el = System.nanoTime() - t0;
            r.close();
            out.add(el / 1e6);
        }
    }

    /** floor.c's fault loop over uffd memory restored from floor.c's own file: 65536 faults per run. */
    private static void faultService(Samples out) throws IOException {
        int runs = 3;
        Path dir = BenchImages.ROOT.resolve("floor-adopted");
        deleteTree(dir);
        MemoryImage image = LayerWriter.adoptBase(dir, FLOOR_IMAGE, 4096);
        long faults = 65536;
        try {
            for (int i = -1; i < runs; i++) {
                try (MappedGuestMemory mem = MemoryBackends.UFFD.create(image, MemoryOptions.DEFAULT.withTrackWrites(false))) {
                    long t0 = System.nanoTime();
                    Userfaultfd.populate(mem.host().asSlice(0, faults * 4096), false);
                    long el = System.nanoTime() - t0;
                    long served = mem.pageServerStats().orElseThrow().faults();
                    if (served != faults) {
                        throw new IllegalStateException("expected " + faults + " faults, the server saw " + served);
                    }
                    if (i >= 0) {
                        out.add(el / 1e3 / faults);
                    }
                }
            }
        } finally {
            deleteTree(dir);
        }
    }

    private static Samples snapshotPerDirtyMiB(int mib, int runs) throws IOException {
        MemoryImage image = BenchImages.restoreImage(1024);
        Samples t = new Samples();
        for (int i = -1; i < runs; i++) {
            MemoryImage written = null;
            try (MappedGuestMemory mem = MemoryBackends.UFFD.create(image, MemoryOptions.DEFAULT)) {
                SnapshotBenchmark.SnapshotWork.dirty(mem, mib);
                long t0 = System.nanoTime();
                written = mem.snapshot(null);
                long el = System.nanoTime() - t0;
                if (i >= 0) {
                    t.add(el / 1e6 / mib);
                }
            } finally {
                SnapshotBenchmark.SnapshotWork.delete(written);
            }
        }
        return t;
    }

    private static void print(List<Row> rows) {
        System.out.println();
        System.out.println("| metric | C floor | Java p50 | Java p99 | p50 / floor | target |");
        System.out.println("|---|---|---|---|---|---|");
        for (Row r : rows) {
            String floor = Double.isNaN(r.floor()) ? "-" : fmt(r.floor()) + " " + r.unit();
            String ratio = Double.isNaN(r.floor()) ? "-" : String.format(Locale.ROOT, "%.2fx", r.p50() / r.floor());
            System.out.println("| " + r.metric() + " | " + floor + " | " + fmt(r.p50()) + " " + r.unit() + " | "
                    + fmt(r.p99()) + " " + r.unit() + " | " + ratio + " | " + r.target() + " |");
        }
    }

    private static String fmt(double v) {
        return String.format(Locale.ROOT, v < 10 ? "%.3f" : "%.1f", v);
    }

    private static double number(String text, String regex) {
        Matcher m = Pattern.compile(regex).matcher(text);
        if (!m.find()) {
            throw new IllegalStateException("the C floor printed no line matching " + regex + ":\n" + text);
        }
        return Double.parseDouble(m.group(1));
    }

    private static String exec(List<String> cmd, int timeoutSeconds) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException(String.join(" ", cmd) + " timed out");
        }
        String text = new String(out, StandardCharsets.UTF_8);
        if (p.exitValue() != 0) {
            throw new IOException(String.join(" ", cmd) + " exited " + p.exitValue() + ":\n" + text);
        }
        return text;
    }

    private static void deleteTree(Path dir) throws IOException {
        if (Files.exists(dir)) {
            try (var files = Files.walk(dir)) {
                for (Path p : files.sorted(java.util.Comparator.reverseOrder()).toList()) {
                    Files.delete(p);
                }
            }
        }
    }
}
