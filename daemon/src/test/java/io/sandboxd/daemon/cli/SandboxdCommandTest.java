package io.sandboxd.daemon.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

class SandboxdCommandTest {
    private record Run(int exit, String out, String err) {
    }

    private static Run run(String... args) {
        CommandLine cl = SandboxdCommand.commandLine();
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        int exit = cl.execute(args);
        return new Run(exit, out.toString(), err.toString());
    }

    @Test
    void helpListsTheCommands() {
        Run r = run("--help");
        assertEquals(0, r.exit());
        assertTrue(r.out().contains("doctor"), r.out());
        assertTrue(r.out().contains("serve"), r.out());
    }

    @Test
    void versionNamesTheProductAndJvm() {
        Run r = run("--version");
        assertEquals(0, r.exit());
        assertTrue(r.out().startsWith("sandboxd "), r.out());
        assertTrue(r.out().contains("JVM: 25"), r.out());
    }

    @Test
    void unknownCommandIsAUsageError() {
        Run r = run("frobnicate");
        assertEquals(2, r.exit());
        assertTrue(r.err().contains("frobnicate"), r.err());
    }

    @Test
    void doctorPrintsOneLinePerCapability() {
        Run r = run("doctor");
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
