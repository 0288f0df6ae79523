package io.sandboxd.daemon.network;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sandboxd.daemon.host.HostAssumptions;
import io.sandboxd.daemon.host.HostCommand;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Slots, egress rules and teardown on the real host network stack, against namespaces the test creates. */
class SandboxNetworksTest {
    private static final NetworkConfig CONFIG = NetworkConfig.defaults().withNamePrefix("sbxn").withSubnet("10.13.0.0/16")
            .withDnsServers(List.of());

    @TempDir
    Path tmp;
    private SandboxNetworks networks;

    @BeforeEach
    void start() {
        HostAssumptions.assumeNetworkHost();
        networks = SandboxNetworks.start(CONFIG);
        networks.removeLeftovers();
    }

    @AfterEach
    void stop() {
        if (networks != null) {
            networks.removeLeftovers();
            networks.close();
            assertFalse(networks.firewallInstalled(), "the nft table is gone after close");
        }
    }

    /** Fetches {@code url} from inside {@code netns}; true when it answered with the fake internet's body. */
    private static boolean fetchFrom(String netns, String url) {
        HostCommand.Result r = HostCommand.run(List.of("ip", "netns", "exec", netns, "curl", "-s", "-f", "-m", "2", url),
                null, Duration.ofSeconds(10));
        return r.ok() && r.stdout().equals(FakeInternet.BODY);
    }

    @Test
    void slotsGetAddressesRoutesAndTheHostReachesThem() {
        NetworkSlot a = networks.create();
        NetworkSlot b = networks.create();
        assertEquals("10.13.0.2", a.sandboxIp());
        assertEquals("10.13.0.1", a.hostIp());
        assertEquals("10.13.0.6", b.sandboxIp());
        String routes = HostCommand.check(List.of("ip", "-n", a.netnsName(), "route"));
        assertTrue(routes.contains("default via 10.13.0.1"), routes);
        assertTrue(HostCommand.run(List.of("busybox", "ping", "-c", "1", "-W", "2", a.sandboxIp())).ok(), "host reaches the slot");
        networks.destroy(a);
        networks.destroy(b);
    }

    @Test
    void egressFollowsInternetAccessAndPrivateRangesAreAlwaysRefused() throws Exception {
        try (FakeInternet internet = new FakeInternet("sbxninet", "198.51.100", tmp.resolve("inet"));
             FakeInternet privateNet = new FakeInternet("sbxnpriv", "10.99.0", tmp.resolve("priv"))) {
            NetworkSlot open = networks.create();
            NetworkSlot closed = networks.create();
            networks.setInternetAccess(open, true);

            assertTrue(fetchFrom(open.netnsName(), internet.url()), "internet access on: public address reachable");
            assertFalse(fetchFrom(closed.netnsName(), internet.url()), "internet access off: nothing leaves");
            assertFalse(fetchFrom(open.netnsName(), privateNet.url()), "private ranges are refused even with internet access");

            networks.setInternetAccess(open, false);
            assertFalse(fetchFrom(open.netnsName(), internet.url()), "turning access off takes effect at once");
            networks.setInternetAccess(closed, true);
            assertTrue(fetchFrom(closed.netnsName(), internet.url()), "turning access on takes effect at once");

            networks.destroy(open);
            networks.destroy(closed);
        }
    }

    @Test
    void oneSandboxCannotReachAnother() throws Exception {
        NetworkSlot a = networks.create();
        NetworkSlot b = networks.create();
        networks.setInternetAccess(a, true);
        Process server = new ProcessBuilder("ip", "netns", "exec", b.netnsName(), "busybox", "nc", "-l", "-p", "8080")
                .redirectErrorStream(true).start();
        try {
            HostCommand.Result r = HostCommand.run(List.of("ip", "netns", "exec", a.netnsName(), "busybox", "nc", "-w", "2",
                    b.sandboxIp(), "8080"), "x", Duration.ofSeconds(10));
            assertFalse(r.ok(), "a sandbox's connection to another sandbox is dropped");
        } finally {
            server.destroyForcibly();
            server.waitFor();
        }
        networks.destroy(a);
        networks.destroy(b);
    }

    @Test
    void destroyLeavesNoNamespaceVethOrFirewallEntry() {
        NetworkSlot s = networks.create();
        networks.setInternetAccess(s, true);
        assertEquals(List.of(s.netnsName()), networks.existingNamespaces());
        assertEquals(List.of(s.hostVeth()), networks.existingVeths());
        assertEquals(List.of(s.hostVeth()), networks.egressAllowed());
        networks.destroy(s);
        assertEquals(List.of(), networks.existingNamespaces());
        assertEquals(List.of(), networks.existingVeths());
        assertEquals(List.of(), networks.egressAllowed());
        assertEquals(0, networks.slotsInUse());
    }

    @Test
    void leftoversOfACrashedRunAreRemoved() {
        SandboxNetworks crashed = SandboxNetworks.start(CONFIG);
        NetworkSlot s = crashed.create();
        crashed.setInternetAccess(s, true);
        // A new daemon starts: same names, nothing known about the old slot.
        List<String> removed = networks.removeLeftovers();
        assertTrue(removed.contains("netns " + s.netnsName()), removed.toString());
        assertTrue(removed.contains("veth " + s.hostVeth()), removed.toString());
        assertEquals(List.of(), networks.existingNamespaces());
        assertEquals(List.of(), networks.existingVeths());
    }
}
