package io.sandboxd.block.nbd;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/** Runs the Debian NBD tools (libnbd-bin, qemu-utils, nbdkit) for the tests; skips when one is missing. */
final class Tools {
    record Result(int exit, String output) {
    }

    private Tools() {
    }

    static boolean has(String tool) {
        for (String d : System.getenv().getOrDefault("PATH", "/usr/bin").split(":")) {
            if (Files.isExecutable(Path.of(d, tool))) {
                return true;
            }
        }
        return false;
    }

    /** Skips the test, with the reason printed, unless every tool is installed. */
    static void require(String... tools) {
        for (String t : tools) {
            if (!has(t)) {
                String why = t + " is not installed (apt-get install -y libnbd-bin qemu-utils nbdkit); skipping";
                System.out.println("SKIPPED: " + why);
                Assumptions.abort(why);
            }
        }
    }

    static Result run(List<String> cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(300, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException(String.join(" ", cmd) + " timed out");
        }
        return new Result(p.exitValue(), new String(out, StandardCharsets.UTF_8));
    }

    /** Runs and fails with the tool's output unless it exits 0. */
    static String ok(String... cmd) throws IOException, InterruptedException {
        Result r = run(List.of(cmd));
        if (r.exit() != 0) {
            throw new AssertionError(String.join(" ", cmd) + " exited " + r.exit() + ":\n" + r.output());
        }
        return r.output();
    }

    static long allocatedBytes(Path p) throws IOException, InterruptedException {
        return Long.parseLong(ok("stat", "-c", "%b", p.toString()).trim()) * 512;
    }
}
