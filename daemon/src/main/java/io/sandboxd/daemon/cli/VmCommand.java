package io.sandboxd.daemon.cli;

import io.sandboxd.vmm.machine.BootTestCycle;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code sandboxd vm ...}: the microVM layer on its own, without the daemon. */
@Command(name = "vm", mixinStandardHelpOptions = true,
        description = "MicroVMs on their own (no daemon): boot, snapshot and restore the test guest.",
        subcommands = VmCommand.BootTest.class)
final class VmCommand implements Runnable {
    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    @Command(name = "boot-test", mixinStandardHelpOptions = true,
            description = {"Boots the test guest (a small Linux kernel and our /init; built by guest/build-guest.sh,",
                    "about 9 minutes the first time, cached) in sandboxd's VMM with its virtio disk and network,",
                    "talks to it, snapshots it, destroys it, restores it with the uffd backend and talks to it again.",
                    "Needs root and /dev/kvm. Under an instruction emulator (PVM hosts) the boot takes minutes.",
                    "Exit 0 when every step passed; otherwise 1 and the step that failed."})
    static final class BootTest implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Option(names = "--guest", paramLabel = "DIR",
                description = "A built guest (vmlinux, initramfs.cpio, disk.ext2, cmdline); default: build it with "
                        + "guest/build-guest.sh (cached).")
        Path guest;

        @Option(names = "--work-dir", paramLabel = "DIR",
                description = "Where the overlays, snapshot and console log go (default: a new temporary dir, "
                        + "removed afterwards unless --keep).")
        Path workDir;

        @Option(names = "--keep", description = "Keep the work dir (console.log, snapshot).")
        boolean keep;

        @Option(names = "--memory-mib", defaultValue = "256", description = "Guest memory (default ${DEFAULT-VALUE}).")
        long memoryMib;

        @Option(names = "--boot-timeout", defaultValue = "PT30M",
                description = "How long to wait for the guest's /init (ISO-8601, default ${DEFAULT-VALUE}).")
        Duration bootTimeout;

        @Option(names = "--request-timeout", defaultValue = "PT5M",
                description = "How long one request to the guest may take (default ${DEFAULT-VALUE}).")
        Duration requestTimeout;

        @Option(names = "--restores", defaultValue = "0", paramLabel = "N",
                description = "After the cycle, restore N more times per memory backend and print p50/p99 of "
                        + "restore -> first answered request (default ${DEFAULT-VALUE}).")
        int restores;

        @Override
        public Integer call() throws Exception {
            PrintWriter out = spec.commandLine().getOut();
            PrintWriter err = spec.commandLine().getErr();
            Path guestDir;
            try {
                guestDir = guest != null ? guest : buildGuest(err);
            } catch (IOException e) {
                err.println("boot-test: step 'build the guest' failed: " + e.getMessage());
                err.flush();
                return 1;
            }
            Path work = workDir != null ? workDir : Files.createTempDirectory("sandboxd-boot-test");
            BootTestCycle cycle = new BootTestCycle(new BootTestCycle.Options(guestDir, work, memoryMib << 20,
                    bootTimeout, requestTimeout, restores), line -> {
                        out.println(line);
                        out.flush();
                    });
            try {
                cycle.run();
                return 0;
            } catch (BootTestCycle.StepFailedException e) {
                err.println(e.getMessage());
                if (e.getCause() != null && e.getCause().getMessage() != null
                        && !e.getMessage().contains(e.getCause().getMessage())) {
                    err.println("  cause: " + e.getCause());
                }
                Path log = work.resolve("console.log");
                if (Files.isRegularFile(log)) {
                    var lines = Files.readAllLines(log, StandardCharsets.ISO_8859_1);
                    err.println("  last console lines (" + log + "):");
                    lines.subList(Math.max(0, lines.size() - 20), lines.size()).forEach(l -> err.println("  | " + l));
                }
                return 1;
            } finally {
                err.flush();
                if (workDir == null && !keep) {
                    deleteTree(work);
                }
            }
        }

        /** Runs guest/build-guest.sh from the repository the launcher ran from; its last stdout line is the dir. */
        static Path buildGuest(PrintWriter err) throws IOException, InterruptedException {
            String home = System.getenv("SANDBOXD_HOME");
            Path script = Path.of(home != null ? home : ".").resolve("guest/build-guest.sh");
            if (!Files.isRegularFile(script)) {
                throw new IOException(script + " not found: run from the repository (./sandboxd sets SANDBOXD_HOME) "
                        + "or pass --guest DIR");
            }
            Process p = new ProcessBuilder("bash", script.toString()).redirectError(ProcessBuilder.Redirect.INHERIT)
                    .start();
            String last = null;
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line; (line = r.readLine()) != null; ) {
                    last = line;
                }
            }
            int code = p.waitFor();
            if (code != 0 || last == null) {
                throw new IOException(script + " exited with " + code);
            }
            return Path.of(last.strip());
        }

        static void deleteTree(Path dir) {
            try (var files = Files.walk(dir)) {
                files.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
            } catch (IOException e) {
                // best effort: a temporary dir
            }
        }
    }
}
