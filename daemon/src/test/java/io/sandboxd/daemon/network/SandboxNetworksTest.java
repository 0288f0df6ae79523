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

    /** curl from inside {@code netns} with a name pinned to an address (no DNS): its exit status and output. */
    private static HostCommand.Result curlAs(String netns, String name, int port, String address, String url) {
        return HostCommand.run(List.of("ip", "netns", "exec", netns, "curl", "-s", "-k", "-m", "3", "--resolve",
                name + ":" + port + ":" + address, url), null, Duration.ofSeconds(15));
    }

    @Test
    void allowOutWinsOverDenyOutAndDenyOutNarrowsAnOpenSandbox() throws Exception {
        try (FakeInternet one = new FakeInternet("sbxnone", "198.51.100", tmp.resolve("one"));
             FakeInternet two = new FakeInternet("sbxntwo", "203.0.113", tmp.resolve("two"))) {
            NetworkSlot s = networks.create();
            networks.applyEgress(s, EgressPolicy.of(true, List.of(), List.of("203.0.113.0/24")));
            assertTrue(fetchFrom(s.netnsName(), one.url()), "not denied: reachable");
            assertFalse(fetchFrom(s.netnsName(), two.url()), "denyOut CIDR: dropped");

            networks.applyEgress(s, EgressPolicy.of(false, List.of("203.0.113.2"), List.of()));
            assertTrue(fetchFrom(s.netnsName(), two.url()), "allowOut wins over internet access off");
            assertFalse(fetchFrom(s.netnsName(), one.url()), "everything else is denied");
            assertEquals(List.of(s.hostVeth()), networks.egressRestricted());
            assertEquals(List.of(), networks.egressAllowed(), "a restricted sandbox is not in the open set");

            networks.applyEgress(s, EgressPolicy.of(true, List.of("10.99.0.0/16"), List.of()));
            assertTrue(fetchFrom(s.netnsName(), two.url()), "back to open");
            assertEquals(List.of(), networks.egressRestricted(), "an open policy leaves no chain behind");
            networks.destroy(s);
        }
    }

    @Test
    void domainRulesAreCheckedOnTheHttpHostAndTheTlsServerName() throws Exception {
        try (FakeInternet web = new FakeInternet("sbxnweb", "198.51.100", tmp.resolve("web")).withWebPorts(tmp.resolve("tls"));
             FakeInternet priv = new FakeInternet("sbxnprv", "10.98.0", tmp.resolve("prv")).withWebPorts(tmp.resolve("ptls"))) {
            NetworkSlot s = networks.create();
            networks.applyEgress(s, EgressPolicy.of(true, List.of("allowed.test", "*.wild.test"), List.of("0.0.0.0/0")));
            String ip = web.address();

            HostCommand.Result ok = curlAs(s.netnsName(), "allowed.test", 80, ip, "http://allowed.test/index.html");
            assertEquals(FakeInternet.BODY, ok.stdout(), "HTTP to an allowed name goes through: " + ok);
            HostCommand.Result sub = curlAs(s.netnsName(), "a.b.wild.test", 80, ip, "http://a.b.wild.test/index.html");
            assertEquals(FakeInternet.BODY, sub.stdout(), "a wildcard matches subdomains at any depth: " + sub);
            HostCommand.Result apex = curlAs(s.netnsName(), "wild.test", 80, ip, "http://wild.test/index.html");
            assertTrue(apex.stdout().startsWith("sandboxd egress policy: 'wild.test' is not in the sandbox's allowOut"),
                    "a wildcard does not match its apex; plain HTTP gets a 403 that says why: " + apex);
            HostCommand.Result other = curlAs(s.netnsName(), "other.test", 80, ip, "http://other.test/index.html");
            assertTrue(other.stdout().contains("'other.test' is not in the sandbox's allowOut"), other.toString());

            HostCommand.Result tls = curlAs(s.netnsName(), "allowed.test", 443, ip, "https://allowed.test/");
            assertTrue(tls.ok() && tls.stdout().contains("s_server"), "TLS with an allowed SNI goes through end to end: " + tls);
            HostCommand.Result tlsDenied = curlAs(s.netnsName(), "other.test", 443, ip, "https://other.test/");
            assertFalse(tlsDenied.ok(), "TLS with another SNI is cut: " + tlsDenied);

            assertFalse(fetchFrom(s.netnsName(), web.url()), "other ports to the same address stay denied (no name check there)");
            HostCommand.Result toPrivate = curlAs(s.netnsName(), "allowed.test", 80, priv.address(), "http://allowed.test/index.html");
            assertFalse(toPrivate.stdout().contains(FakeInternet.BODY.strip()), "an allowed name never opens a private address: " + toPrivate);

            HostCommand.Result direct = HostCommand.run(List.of("ip", "netns", "exec", s.netnsName(), "curl", "-s", "-m", "2",
                    "http://" + s.hostIp() + ":" + networks.egressProxyPort() + "/"), null, Duration.ofSeconds(10));
            assertFalse(direct.ok(), "the proxy port cannot be dialled directly: " + direct);

            // an update replaces the rules at once
            networks.applyEgress(s, EgressPolicy.of(false, List.of(), List.of()));
            assertFalse(curlAs(s.netnsName(), "allowed.test", 80, ip, "http://allowed.test/index.html").stdout()
                    .contains(FakeInternet.BODY.strip()), "closed: nothing leaves");
            networks.destroy(s);
            assertEquals(List.of(), networks.egressRestricted());
        }
    }
}
