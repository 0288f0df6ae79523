package io.sandboxd.daemon.runtime.jail;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sandboxd.api.volume.Ownership;
import io.sandboxd.daemon.envd.EnvdLaunch;
import io.sandboxd.daemon.host.HostAssumptions;
import io.sandboxd.daemon.network.NetworkConfig;
import io.sandboxd.daemon.runtime.SandboxSpec;
import io.sandboxd.daemon.volume.VolumePathException;
import io.sandboxd.daemon.volume.VolumeTree;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A volume bind-mounted into real jails (busybox template): what one sandbox writes survives its kill and is there
 * for the next sandbox and for the volume file API, and a link a sandbox plants in the volume does not lead the
 * host out of it. Own names: prefix sbxv, subnet 10.21.0.0/16, cgroup parent sandboxd-vtest.
 */
class JailVolumeMountTest {
    @TempDir
    static Path dataDir;
    static JailRuntime runtime;

    @BeforeAll
    static void start() throws Exception {
        HostAssumptions.assumeJailHost();
        TinyRootfs.create(dataDir);
        runtime = JailRuntime.start(JailConfig.forCommand(dataDir,
                        List.of("/bin/httpd", "-f", "-p", String.valueOf(EnvdLaunch.PORT), "-h", "/www"), EnvdLaunch.PORT)
                .withRuncRoot(dataDir.resolve("runc"))
                .withCgroupParent("sandboxd-vtest")
                .withNetwork(NetworkConfig.defaults().withNamePrefix("sbxv").withSubnet("10.21.0.0/16")
                        .withDnsServers(List.of()))
                .withPoolSize(1)
                .withDefaults(1, 128, 64)
                .withReadinessPath("/index.html"));
        runtime.reconcile();
        runtime.prepareTemplate(TinyRootfs.TEMPLATE_ID, line -> { });
        assertTrue(runtime.awaitPoolFull(TinyRootfs.TEMPLATE_ID, Duration.ofSeconds(30)), "the pool fills");
    }

    @AfterAll
    static void stop() {
        if (runtime != null) {
            runtime.close();
            JailInventory left = runtime.inventory();
            assertTrue(left.isEmpty(), "close leaves nothing: " + left);
        }
    }

    static SandboxSpec spec(String id, Path volume, String at) {
        return new SandboxSpec(id, TinyRootfs.TEMPLATE_ID, 1, 128, Map.of(),
                io.sandboxd.daemon.network.EgressPolicy.CLOSED, List.of(new SandboxSpec.BindMount(volume, at)));
    }

    static String sh(JailSandbox sb, String script) {
        return sb.exec(List.of("/bin/sh", "-c", script), Duration.ofSeconds(20)).orThrow().stdout();
    }

    @Test
    void dataOutlivesTheSandboxAndLinksPlantedInsideStayInside() throws Exception {
        VolumeTree volume = VolumeTree.create(dataDir.resolve("volumes").resolve("vol1"));
        volume.write("/from-host.txt", "written on the host".getBytes(StandardCharsets.UTF_8), Ownership.DEFAULT);

        JailSandbox first = runtime.create(spec("sbv1", volume.root(), "/mnt/data"));
        try {
            assertEquals("written on the host", sh(first, "cat /mnt/data/from-host.txt"));
            sh(first, "mkdir -p /mnt/data/sub && echo from the first sandbox > /mnt/data/sub/first.txt"
                    + " && ln -s /etc /mnt/data/etc-link && ln -s /etc/passwd /mnt/data/passwd-link");
            assertEquals(1, runtime.pooled(TinyRootfs.TEMPLATE_ID), "a create with volumes leaves the pool alone");
        } finally {
            first.kill();
        }
        assertEquals("from the first sandbox\n",
                new String(volume.read("/sub/first.txt"), StandardCharsets.UTF_8), "kill keeps the volume's data");
        // The links mean the jail's /etc inside a sandbox; on the host they would mean the host's.
        assertEquals("symlink", volume.stat("/etc-link").type());
        assertThrows(VolumePathException.class, () -> volume.read("/etc-link/passwd"));
        assertThrows(VolumePathException.class, () -> volume.read("/passwd-link"));
        assertThrows(VolumePathException.class, () -> volume.write("/etc-link/hostname", new byte[] {1}, Ownership.DEFAULT));

        JailSandbox second = runtime.create(spec("sbv2", volume.root(), "/srv/vol"));
        try {
            assertEquals("from the first sandbox\n", sh(second, "cat /srv/vol/sub/first.txt"));
            assertEquals("", sh(second, "ls /mnt/data 2>/dev/null || true"), "the first sandbox's mount point is not here");
            sh(second, "echo second > /srv/vol/second.txt");
        } finally {
            second.kill();
        }
        assertEquals("second\n", Files.readString(volume.root().resolve("second.txt")));
        volume.removeAll();
        assertTrue(Files.isDirectory(dataDir.resolve("volumes")));
    }
}
