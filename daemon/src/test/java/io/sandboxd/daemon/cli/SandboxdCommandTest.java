package io.sandboxd.daemon.cli;

import static io.sandboxd.daemon.cli.CliRun.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class SandboxdCommandTest {
    @Test
    void helpListsTheCommands() {
        CliRun r = run("--help");
        assertEquals(0, r.exit());
        assertTrue(r.out().contains("doctor"), r.out());
        assertTrue(r.out().contains("serve"), r.out());
    }

    @Test
    void versionNamesTheProductAndJvm() {
        CliRun r = run("--version");
        assertEquals(0, r.exit());
        assertTrue(r.out().startsWith("sandboxd "), r.out());
        assertTrue(r.out().contains("JVM: 25"), r.out());
    }

    @Test
    void unknownCommandIsAUsageError() {
        CliRun r = run("frobnicate");
        assertEquals(2, r.exit());
        assertTrue(r.err().contains("frobnicate"), r.err());
    }

    @Test
    void doctorPrintsOneLinePerCapability() {
        CliRun r = run("doctor");
        List<String> lines = r.out().lines().toList();
        for (String prefix : List.of("kvm: ", "userfaultfd: ", "tun: ", "nbd: ", "cgroups: ", "overlayfs: ", "namespaces: ", "runtime: ")) {
            assertEquals(1, lines.stream().filter(l -> l.startsWith(prefix)).count(), prefix + " in\n" + r.out());
        }
        if (Files.exists(Path.of("/sys/module/kvm_pvm")) && Files.exists(Path.of("/dev/kvm"))) {
            String kvm = lines.stream().filter(l -> l.startsWith("kvm: ")).findFirst().orElseThrow();
            assertTrue(kvm.contains("PVM"), kvm);
        }
    }
}
