package io.sandboxd.daemon.runtime.jail;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sandboxd.daemon.network.NetworkConfig;
import io.sandboxd.daemon.host.HostAssumptions;
import io.sandboxd.daemon.runtime.SandboxSpec;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A daemon that died with jails running: the next one finds and removes all of it. */
class JailReconcileTest {
    @TempDir
    Path dataDir;

    @Test
    void reconcileRemovesWhatACrashedRunLeft() throws Exception {
        HostAssumptions.assumeJailHost();
        TinyRootfs.create(dataDir);
        JailConfig config = JailRuntimeTest.testConfig(dataDir, 1).withCgroupParent("sandboxd-rtest")
                .withNetwork(NetworkConfig.defaults().withNamePrefix("sbxr").withSubnet("10.15.0.0/16").withDnsServers(List.of()));
        JailRuntime crashed = JailRuntime.start(config);
        crashed.reconcile();
        crashed.prepareTemplate(TinyRootfs.TEMPLATE_ID, l -> { });
        JailSandbox left = crashed.create(new SandboxSpec("left1", TinyRootfs.TEMPLATE_ID, 1, 128, Map.of(), true));
        assertTrue(crashed.awaitPoolFull(TinyRootfs.TEMPLATE_ID, Duration.ofSeconds(30)));
        String leftJail = left.runtimeId();

        try (JailRuntime next = JailRuntime.start(config)) {
            JailInventory found = next.inventory();
            assertEquals(2, found.runcContainers().size(), found.toString());
            assertEquals(2, found.netns().size(), found.toString());
            assertEquals(2, found.overlayMounts().size(), found.toString());
            List<String> removed = next.reconcile();
            assertTrue(removed.contains("runc container " + leftJail), removed.toString());
            assertTrue(removed.stream().anyMatch(r -> r.startsWith("overlay mount ")), removed.toString());
            assertTrue(removed.stream().anyMatch(r -> r.startsWith("netns sbxr-")), removed.toString());
            assertTrue(removed.stream().anyMatch(r -> r.startsWith("veth sbxrh")), removed.toString());
            JailInventory after = next.inventory();
            assertTrue(after.isEmpty(), after.toString());
        } finally {
            crashed.close(); // everything is gone already; close must cope with that
        }
        assertTrue(crashed.inventory().isEmpty());
        assertThrows(io.sandboxd.daemon.runtime.KilledSandboxException.class, left::pause,
                "close killed the handle the caller still held");
    }
}
