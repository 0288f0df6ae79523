package io.sandboxd.vmm.machine;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;

/**
 * The test guest for tests: runs the repository's guest/build-guest.sh (cached per machine under
 * ~/.cache/sandboxd/guest: about 9 minutes on 2 cores the first time, milliseconds afterwards).
 */
final class TestGuestBuild {
    private static Path built;

    private TestGuestBuild() {
    }

    static synchronized Path guest() throws IOException, InterruptedException {
        if (built != null) {
            return built;
        }
        Path script = Path.of("..", "guest", "build-guest.sh").toAbsolutePath().normalize();
        Assumptions.assumeTrue(Files.isRegularFile(script), "no " + script);
        Process p = new ProcessBuilder("bash", script.toString()).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        String last = null;
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            for (String line; (line = r.readLine()) != null; ) {
                last = line;
            }
        }
        int code = p.waitFor();
        if (code == 3) {
            Assumptions.abort("the guest build's tools are missing (see guest/build-guest.sh for the Debian packages)");
        }
        if (code != 0 || last == null) {
            throw new IOException(script + " exited with " + code);
        }
        built = Path.of(last.strip());
        return built;
    }
}
