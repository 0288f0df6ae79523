package io.sandboxd.daemon.cli;

import static io.sandboxd.daemon.cli.CliRun.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The refusals of {@code serve} that need no host: each fails fast with a clear message, never a fake start. */
class ServeCommandTest {
    @TempDir
    Path dataDir;

    @Test
    void theVmRuntimeIsRefusedWithTheReason() {
        CliRun r = run("serve", "--data-dir", dataDir.toString(), "--runtime", "vm");
        assertEquals(ServeCommand.EXIT_NOT_AVAILABLE, r.exit());
        assertTrue(r.err().contains("the vm runtime needs hardware KVM and a guest kernel; not available in this version"), r.err());
        assertFalse(Files.exists(dataDir.resolve(EnvFile.NAME)), "nothing claims to be ready");
    }

    @Test
    void anUnknownRuntimeIsAUsageError() {
        CliRun r = run("serve", "--data-dir", dataDir.toString(), "--runtime", "docker");
        assertEquals(2, r.exit());
        assertTrue(r.err().contains("docker"), r.err());
    }

    @Test
    void anUnknownLogFormatIsAUsageErrorThatNamesTheChoices() {
        CliRun r = run("serve", "--data-dir", dataDir.toString(), "--log-format", "xml");
        assertEquals(2, r.exit());
        assertTrue(r.err().contains("xml") && r.err().contains("text, json"), r.err());
        assertFalse(Files.exists(dataDir.resolve("db")), "nothing started");
    }

    @Test
    void aMissingEnvdJarStopsTheStartBeforeAnythingRuns() {
        CliRun r = run("serve", "--data-dir", dataDir.toString(), "--envd-jar", dataDir.resolve("nope.jar").toString());
        assertEquals(ServeCommand.EXIT_START_FAILED, r.exit());
        assertTrue(r.err().contains("nope.jar does not exist"), r.err());
        assertFalse(Files.exists(dataDir.resolve(EnvFile.NAME)));
        assertFalse(Files.exists(dataDir.resolve("db")), "the store was not opened");
    }

    @Test
    void theEnvFileRoundTripsAndIsPrivate() throws Exception {
        Path f = dataDir.resolve(EnvFile.NAME);
        EnvFile.write(f, new java.util.LinkedHashMap<>(java.util.Map.of("E2B_API_KEY", "e2b_00")));
        assertEquals(java.util.Map.of("E2B_API_KEY", "e2b_00"), EnvFile.read(f));
        assertEquals("rw-------", java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(f)));
    }

    @Test
    void anUnknownShutdownPolicyIsRefusedBeforeAnythingStarts() {
        CliRun bad = run("serve", "--data-dir", dataDir.toString(), "--on-shutdown", "explode");
        assertEquals(2, bad.exit());
        assertTrue(bad.err().contains("expected kill, pause or keep"), bad.err());
        assertFalse(Files.exists(dataDir.resolve("db")), "the store was not opened");
    }

    @Test
    void nodeTlsNeedsAllThreeFilesAndACluster() {
        CliRun some = run("serve", "--data-dir", dataDir.toString(), "--redis", "redis://127.0.0.1:1", "--database-url",
                "postgres://x@127.0.0.1:1/x", "--node-tls-cert", "a.pem", "--node-tls-key", "a.key");
        assertEquals(ServeCommand.EXIT_USAGE, some.exit());
        assertTrue(some.err().contains("node TLS needs all of --node-tls-cert, --node-tls-key and --node-tls-ca"),
                some.err());
        CliRun alone = run("serve", "--data-dir", dataDir.toString(), "--node-tls-cert", "a.pem", "--node-tls-key", "a.key",
                "--node-tls-ca", "ca.pem");
        assertEquals(ServeCommand.EXIT_USAGE, alone.exit(), "TLS is for the cluster's node service");
        assertFalse(Files.exists(dataDir.resolve("db")), "nothing started");
    }
}
