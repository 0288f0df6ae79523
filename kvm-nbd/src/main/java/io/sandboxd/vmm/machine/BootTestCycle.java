package io.sandboxd.vmm.machine;

import io.sandboxd.block.cow.Overlay;
import io.sandboxd.block.layer.LayeredImage;
import io.sandboxd.vmm.Vmm;
import io.sandboxd.vmm.boot.BootSpec;
import io.sandboxd.vmm.kvm.KvmSystem;
import io.sandboxd.vmm.memory.MemoryBackends;
import io.sandboxd.vmm.net.NetnsTap;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * The whole microVM cycle on a real kernel, as {@code sandboxd vm boot-test} and its JUnit test run it: boot the
 * test guest, wait for its /init to listen, ask it for the file on its virtio-blk disk and have it write one over
 * virtio-net, snapshot (memory + machine + device state + sealed disk), destroy, restore with the {@code uffd}
 * backend, and check that the restored guest answers, goes on counting requests, and still has the file it wrote.
 * Then, optionally, {@code restores} more restores per backend, timed to the first answered request.
 *
 * <p>Each step that fails throws a {@link StepFailedException} naming it.
 */
public final class BootTestCycle {
    public static final String GUEST_IP = "172.16.0.2";
    public static final String HOST_CIDR = "172.16.0.1/24";
    public static final String GUEST_MAC = "02:53:42:58:00:02";
    public static final int GUEST_PORT = 8080;
    static final String READY_LINE = "sandboxd-init: listening on " + GUEST_PORT;
    static final String NOTE = "written-before-snapshot";

    /** A step of the cycle failed; the message says which and why. */
    public static final class StepFailedException extends Exception {
        private static final long serialVersionUID = 1L;
        private final String step;

        StepFailedException(String step, String message, Throwable cause) {
            super("boot-test: step '" + step + "' failed: " + message, cause);
            this.step = step;
        }

        public String step() {
            return step;
        }
    }

    /** Where the guest is and how long to wait for it. */
    public record Options(Path guestDir, Path workDir, long memoryBytes, Duration bootTimeout, Duration requestTimeout,
            int restoresPerBackend) {
    }

    /** What the cycle measured. */
    public record Result(double userspaceSeconds, double restoreMillis, List<String> timings, long[] fdsBeforeAfter,
            long[] mappingsBeforeAfter) {
    }

    /** Open fds and memory mappings of this process (to show that restores leave none behind). */
    static long[] resources() {
        try (var fds = Files.list(Path.of("/proc/self/fd")); var maps = Files.lines(Path.of("/proc/self/maps"))) {
            return new long[] {fds.count(), maps.count()};
        } catch (IOException e) {
            return new long[] {-1, -1};
        }
    }

    private final Options options;
    private final Consumer<String> out;

    public BootTestCycle(Options options, Consumer<String> out) {
        this.options = options;
        this.out = out;
    }

    public Result run() throws StepFailedException, InterruptedException {
        KvmSystem kvm = step("open /dev/kvm", KvmSystem::open);
        try (kvm) {
            Vmm vmm = new Vmm(kvm);
            Path guest = options.guestDir();
            Path kernel = guest.resolve("vmlinux");
            Path initramfs = guest.resolve("initramfs.cpio");
            String cmdline = step("read the guest", () -> {
                for (Path p : List.of(kernel, initramfs, guest.resolve("disk.ext2"), guest.resolve("cmdline"))) {
                    if (!Files.isRegularFile(p)) {
                        throw new IOException(p + " is missing (run guest/build-guest.sh)");
                    }
                }
                return Files.readString(guest.resolve("cmdline")).strip() + " sbxip=" + GUEST_IP;
            });
            Path work = options.workDir();
            String netnsName = "sbxbt" + ProcessHandle.current().pid();
            try (NetnsTap net = step("network namespace and tap", () -> NetnsTap.create(netnsName, "tap0", HOST_CIDR))) {
                Path base = work.resolve("disk-base.img");
                Overlay bootDisk = step("disk", () -> {
                    Files.createDirectories(work);
                    Files.copy(guest.resolve("disk.ext2"), base, StandardCopyOption.REPLACE_EXISTING);
                    return Overlay.create(work.resolve("boot.overlay"), LayeredImage.raw(base, Overlay.BLOCK_SIZE));
                });

                CountDownLatch ready = new CountDownLatch(1);
                long bootStart = System.nanoTime();
                String[] lastLine = {""};
                MachineSpec spec = new MachineSpec(1, options.memoryBytes(), new BootSpec(kernel, initramfs, cmdline),
                        work.resolve("console.log"), line -> {
                            lastLine[0] = line;
                            out.accept(String.format("[%8.2f] %s", (System.nanoTime() - bootStart) / 1e9, line));
                            if (line.contains(READY_LINE)) {
                                ready.countDown();
                            }
                        }, GUEST_MAC);
                MicroVmSnapshot snapshot;
                double userspace;
                String count;
                try (MicroVm vm = step("boot", () -> MicroVm.boot(vmm, spec, bootDisk, net.takeTap()))) {
                    waitForUserspace(vm, ready, bootStart, lastLine);
                    userspace = (System.nanoTime() - bootStart) / 1e9;
                    out.accept(String.format("boot-test: userspace answered the console after %.1f s", userspace));
                    expect("request over virtio-net", net, "read hello.txt", "data hello from the virtio-blk disk");
                    expect("disk write in the guest", net, "write note.txt " + NOTE, "ok");
                    count = request("count requests", net, "ping");
                    snapshot = step("snapshot", () -> vm.snapshot(work.resolve("snapshot")));
                    out.accept("boot-test: snapshot " + snapshot.manifest() + " (" + count + ")");
                }
                out.accept("boot-test: destroyed the booted VM");

                step("new tap for the restore", () -> {
                    net.openTap();
                    return null;
                });
                long restoreStart = System.nanoTime();
                double restoreMillis;
                try (MicroVm restored = step("restore (uffd)", () -> MicroVm.restore(vmm, snapshot, MemoryBackends.UFFD,
                        spec, work.resolve("restore.overlay"), net.takeTap()))) {
                    String pong = request("first request after restore", net, "ping");
                    restoreMillis = (System.nanoTime() - restoreStart) / 1e6;
                    long before = Long.parseLong(count.substring("pong ".length()));
                    if (!pong.equals("pong " + (before + 1))) {
                        throw new StepFailedException("guest state after restore", "expected 'pong " + (before + 1)
                                + "' (the count goes on from the snapshot), got '" + pong + "'", null);
                    }
                    expect("disk after restore", net, "read note.txt", "data " + NOTE);
                    if (restored.bus().stopReason().isPresent()) {
                        throw new StepFailedException("restored VM", restored.bus().stopReason().get(), null);
                    }
                }
                long[] before = resources();
                List<String> timings = timeRestores(vmm, snapshot, spec, net, work);
                long[] after = resources();
                if (!timings.isEmpty()) {
                    out.accept("boot-test: over " + 3 * options.restoresPerBackend() + " restores: open fds " + before[0]
                            + " -> " + after[0] + ", mappings " + before[1] + " -> " + after[1]);
                }
                out.accept(String.format("boot-test: userspace in %.1f s, restored in %.1f ms, guest answered after "
                        + "restore", userspace, restoreMillis));
                return new Result(userspace, restoreMillis, timings, new long[] {before[0], after[0]},
                        new long[] {before[1], after[1]});
            }
        }
    }

    /** More restores of the same snapshot per backend, each timed from restore to the first answered request. */
    private List<String> timeRestores(Vmm vmm, MicroVmSnapshot snapshot, MachineSpec spec, NetnsTap net, Path work)
            throws StepFailedException, InterruptedException {
        List<String> rows = new ArrayList<>();
        if (options.restoresPerBackend() <= 0) {
            return rows;
        }
        for (MemoryBackends backend : MemoryBackends.values()) {
            double[] ms = new double[options.restoresPerBackend()];
            for (int i = 0; i < ms.length; i++) {
                step("new tap", () -> {
                    net.openTap();
                    return null;
                });
                long t0 = System.nanoTime();
                Path overlay = work.resolve("timed-" + backend.id() + ".overlay");
                try (MicroVm vm = step("restore (" + backend.id() + ")",
                        () -> MicroVm.restore(vmm, snapshot, backend, spec, overlay, net.takeTap()))) {
                    request("request after restore (" + backend.id() + ")", net, "ping");
                    ms[i] = (System.nanoTime() - t0) / 1e6;
                }
                step("clean up", () -> {
                    Files.deleteIfExists(overlay);
                    Files.deleteIfExists(Overlay.mapPath(overlay));
                    return null;
                });
            }
            Arrays.sort(ms);
            String row = String.format("restore -> first answer, %-11s p50 %8.1f ms  p99 %8.1f ms  (%d restores)",
                    backend.id(), ms[ms.length / 2], ms[Math.min(ms.length - 1, (int) Math.ceil(ms.length * 0.99) - 1)],
                    ms.length);
            out.accept("boot-test: " + row);
            rows.add(row);
        }
        return rows;
    }

    private void waitForUserspace(MicroVm vm, CountDownLatch ready, long bootStart, String[] lastLine)
            throws StepFailedException, InterruptedException {
        long deadline = bootStart + options.bootTimeout().toNanos();
        while (!ready.await(15, TimeUnit.SECONDS)) {
            if (vm.bus().stopReason().isPresent() || vm.vm().failure().isPresent()) {
                throw new StepFailedException("boot", "the guest stopped: " + vm.bus().stopReason()
                        .orElseGet(() -> vm.vm().failure().map(Throwable::getMessage).orElse("?")), null);
            }
            long now = System.nanoTime();
            if (now > deadline) {
                throw new StepFailedException("boot", "no '" + READY_LINE + "' within " + options.bootTimeout()
                        + "; last console line: " + lastLine[0], null);
            }
            out.accept(String.format("boot-test: ... %.0f s, still booting (emulated boots take minutes)",
                    (now - bootStart) / 1e9));
        }
    }

    private void expect(String step, NetnsTap net, String request, String expected)
            throws StepFailedException {
        String reply = request(step, net, request);
        if (!reply.equals(expected)) {
            throw new StepFailedException(step, "'" + request + "' answered '" + reply + "', expected '" + expected
                    + "'", null);
        }
    }

    /** One request to the guest's /init from inside the namespace, retried until the request timeout. */
    private String request(String step, NetnsTap net, String request) throws StepFailedException {
        long deadline = System.nanoTime() + options.requestTimeout().toNanos();
        IOException last = null;
        while (System.nanoTime() < deadline) {
            try {
                return net.call(() -> {
                    try (Socket s = new Socket()) {
                        s.connect(new InetSocketAddress(GUEST_IP, GUEST_PORT), 10_000);
                        s.setSoTimeout((int) Math.min(Integer.MAX_VALUE, options.requestTimeout().toMillis()));
                        OutputStream o = s.getOutputStream();
                        o.write((request + "\n").getBytes(StandardCharsets.US_ASCII));
                        o.flush();
                        String line = new BufferedReader(new InputStreamReader(s.getInputStream(),
                                StandardCharsets.US_ASCII)).readLine();
                        if (line == null) {
                            throw new IOException("the guest closed the connection without an answer");
                        }
                        return line;
                    }
                });
            } catch (IOException e) {
                last = e;
                try {
                    Thread.sleep(200);
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
        }
        throw new StepFailedException(step, "no answer to '" + request + "' within " + options.requestTimeout()
                + (last == null ? "" : ": " + last.getMessage()), last);
    }

    @FunctionalInterface
    private interface Step<T> {
        T run() throws Exception;
    }

    private static <T> T step(String name, Step<T> s) throws StepFailedException {
        try {
            return s.run();
        } catch (StepFailedException e) {
            throw e;
        } catch (Exception e) {
            throw new StepFailedException(name, String.valueOf(e.getMessage()), e);
        }
    }
}
