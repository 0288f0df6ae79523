package io.sandboxd.vmm.kvm;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/**
 * Compiles a freestanding C test guest (a resource under {@code io/sandboxd/vmm/guests/}) with gcc into a flat
 * binary for guest-physical 0x1000 ({@code flat.ld} puts {@code .text.entry}, i.e. {@code _start}, first).
 * Skips the calling test, saying why, when gcc is missing.
 */
public final class GuestCompiler {
    private GuestCompiler() {
    }

    public static byte[] compile(String name) throws IOException, InterruptedException {
        Path dir = Files.createTempDirectory("sandboxd-guest");
        try {
            Files.write(dir.resolve(name), resource(name));
            Files.write(dir.resolve("flat.ld"), resource("flat.ld"));
            Path out = dir.resolve("guest.bin");
            List<String> cmd = List.of("gcc", "-ffreestanding", "-nostdlib", "-m64", "-fno-pic", "-static", "-O1",
                    "-mgeneral-regs-only", "-mno-red-zone", "-fno-builtin", "-fno-tree-loop-distribute-patterns",
                    "-fno-asynchronous-unwind-tables", "-fno-stack-protector", "-T", "flat.ld",
                    "-Wl,--oformat=binary", "-Wl,--build-id=none", "-o", out.toString(), name);
            Process p;
            try {
                p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
            } catch (IOException e) {
                Assumptions.abort("needs gcc to build the test guest (apt-get install gcc): " + e.getMessage());
                throw e;
            }
            String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
                throw new IOException("gcc failed on " + name + ":\n" + log);
            }
            return Files.readAllBytes(out);
        } finally {
            try (var files = Files.walk(dir)) {
                files.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
            }
        }
    }

    private static byte[] resource(String name) throws IOException {
        try (InputStream in = GuestCompiler.class.getResourceAsStream("/io/sandboxd/vmm/guests/" + name)) {
            if (in == null) {
                throw new IOException("no test guest resource " + name);
            }
            return in.readAllBytes();
        }
    }
}
