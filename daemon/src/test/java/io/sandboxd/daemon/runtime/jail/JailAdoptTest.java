package io.sandboxd.daemon.runtime.jail;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sandboxd.daemon.envd.EnvdLaunch;
import io.sandboxd.daemon.host.HostAssumptions;
import io.sandboxd.daemon.host.HostCommand;
import io.sandboxd.daemon.network.EgressPolicy;
import io.sandboxd.daemon.network.FakeInternet;
import io.sandboxd.daemon.network.NetworkConfig;
import io.sandboxd.daemon.runtime.AdoptedSandbox;
import io.sandboxd.daemon.runtime.NotAdoptableException;
import io.sandboxd.daemon.runtime.SandboxSpec;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A daemon killed with jails running and paused: the next one's runtime adopts them (same processes, same files,
 * the egress rules given again to its new firewall table, pause and resume work) and removes only what nobody
 * adopted; at the end nothing of either is left on the host.
 */
class JailAdoptTest {
    @TempDir
    Path dataDir;

    static JailConfig config(Path dataDir) {
        return JailRuntimeTest.testConfig(dataDir, 1).withCgroupParent("sandboxd-ktest")
                .withNetwork(NetworkConfig.defaults().withNamePrefix("sbxk").withSubnet("10.18.0.0/16").withDnsServers(List.of()));
    }

    static String get(JailSandbox sb, FakeInternet target) {
        String get = "printf 'GET /index.html HTTP/1.0\\r\\n\\r\\n' | nc -w 3 " + target.address() + " " + FakeInternet.PORT;
        return sb.exec(List.of("/bin/sh", "-c", get), Duration.ofSeconds(15)).stdout();
    }

    static String sh(JailSandbox sb, String script) {
        return sb.exec(List.of("/bin/sh", "-c", script), Duration.ofSeconds(15)).orThrow().stdout();
    }

    static int envdStatus(JailSandbox sb) throws Exception {
        var addr = sb.envdAddress();
        try (HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(3)).build()) {
            return http.send(HttpRequest.newBuilder(URI.create("http://" + addr.getHostString() + ":" + addr.getPort()
                    + "/index.html")).timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.discarding()).statusCode();
        }
    }

    @Test
    void aKilledDaemonsJailsAreAdoptedRunningOrPausedWithTheirRulesAndNothingLeaks() throws Exception {
        HostAssumptions.assumeJailHost();
        TinyRootfs.create(dataDir);
        JailConfig config = config(dataDir);
        try (FakeInternet allowed = new FakeInternet("sbxkinet", "198.51.100", dataDir.resolve("inet-a"));
             FakeInternet other = new FakeInternet("sbxkoth", "203.0.113", dataDir.resolve("inet-b"))) {
            JailRuntime crashed = JailRuntime.start(config);
            JailRuntime next = null;
            try {
                crashed.reconcile();
                crashed.prepareTemplate(TinyRootfs.TEMPLATE_ID, l -> { });
                EgressPolicy onlyAllowed = EgressPolicy.of(true, List.of(allowed.address()), List.of("0.0.0.0/0"));
                JailSandbox ruled = crashed.create(new SandboxSpec("k-ruled", TinyRootfs.TEMPLATE_ID, 1, 128, Map.of(),
                        onlyAllowed, List.of()));
                JailSandbox frozen = crashed.create(new SandboxSpec("k-frozen", TinyRootfs.TEMPLATE_ID, 1, 128, Map.of(), true));
                sh(ruled, "echo kept-a > /root/before.txt");
                sh(frozen, "echo kept-b > /root/before.txt");
                ruled.execDetached(List.of("/bin/sleep", "3601"));
                assertTrue(get(ruled, allowed).contains(FakeInternet.BODY), "the rule lets it reach the allowed address");
                assertFalse(get(ruled, other).contains(FakeInternet.BODY), "and nothing else");
                frozen.pause();
                String ruledInit = Files.readString(dataDir.resolve("sandboxes").resolve(ruled.runtimeId()).resolve("init.pid")).strip();
                assertTrue(crashed.awaitPoolFull(TinyRootfs.TEMPLATE_ID, Duration.ofSeconds(30)));
                String pooled = crashed.inventory().runcContainers().stream()
                        .filter(id -> !id.equals(ruled.runtimeId()) && !id.equals(frozen.runtimeId())).findFirst().orElseThrow();
                crashed.stopRefillsAsIfKilled();

                // The next daemon: a new firewall table (so the dead one's rules are gone) until it adopts.
                next = JailRuntime.start(config);
                JailRuntime n = next;
                assertFalse(get(ruled, allowed).contains(FakeInternet.BODY), "before adoption nothing leaves");
                NotAdoptableException unknown = assertThrows(NotAdoptableException.class,
                        () -> n.adopt("k-nosuch", EgressPolicy.OPEN));
                assertTrue(unknown.getMessage().contains("no jail"), unknown.getMessage());

                AdoptedSandbox a = next.adopt("k-ruled", onlyAllowed);
                AdoptedSandbox b = next.adopt("k-frozen", EgressPolicy.OPEN);
                assertFalse(a.paused());
                assertTrue(b.paused(), "runc says it is paused");
                assertInstanceOf(NotAdoptableException.class, assertThrows(RuntimeException.class,
                        () -> n.adopt("k-ruled", onlyAllowed)), "a sandbox is adopted once");
                List<String> removed = next.reconcile();
                assertTrue(removed.contains("runc container " + pooled), "the dead daemon's pooled jail goes: " + removed);
                assertTrue(removed.stream().noneMatch(l -> l.contains(ruled.runtimeId()) || l.contains(frozen.runtimeId())),
                        "adopted jails stay: " + removed);
                assertEquals(2, next.inventory().runcContainers().size(), next.inventory().toString());

                JailSandbox ra = (JailSandbox) a.handle();
                JailSandbox rb = (JailSandbox) b.handle();
                assertEquals(ruled.runtimeId(), ra.runtimeId());
                assertEquals(ruled.envdAddress(), ra.envdAddress());
                assertTrue(Files.exists(Path.of("/proc", ruledInit)), "the same first process runs");
                assertEquals(200, envdStatus(ra), "its envd stand-in answers");
                assertTrue(sh(ra, "ps").contains("sleep 3601"), "a process started before the crash still runs");
                assertEquals("kept-a\n", sh(ra, "cat /root/before.txt"));
                assertTrue(get(ra, allowed).contains(FakeInternet.BODY), "its rule is back: the allowed address");
                assertFalse(get(ra, other).contains(FakeInternet.BODY), "its rule is back: nothing else");
                assertTrue(next.inventory().egressAllowed().contains(rb.slot().hostVeth()), "the open one is open again");

                rb.resume();
                assertEquals("kept-b\n", sh(rb, "cat /root/before.txt"));
                assertTrue(get(rb, other).contains(FakeInternet.BODY), "the resumed one is allowed out");
                rb.pause();
                rb.resume();
                assertEquals(200, envdStatus(rb));
                ra.pause();
                ra.resume();
                assertEquals("kept-a\n", sh(ra, "cat /root/before.txt"));

                ra.kill();
                rb.kill();
                next.close();
                JailInventory after = next.inventory();
                assertTrue(after.isEmpty(), "nothing left: " + after);
                assertEquals(List.of(), leftCgroups(), "no cgroups under sandboxd-ktest");
            } finally {
                if (next != null) {
                    next.close();
                }
                crashed.close(); // what it made is gone already; close must cope with that
            }
            assertTrue(crashed.inventory().isEmpty(), crashed.inventory().toString());
        }
    }

    static List<String> leftCgroups() throws Exception {
        return HostCommand.check(List.of("sh", "-c", "find /sys/fs/cgroup -mindepth 2 -maxdepth 3 -type d -path '*sandboxd-ktest/*' 2>/dev/null || true"))
                .lines().toList();
    }
}
