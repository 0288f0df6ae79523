package io.sandboxd.daemon.runtime.jail;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.sandboxd.daemon.network.FakeInternet;
import io.sandboxd.daemon.network.NetworkConfig;
import io.sandboxd.daemon.host.HostAssumptions;
import io.sandboxd.daemon.host.HostCommand;
import io.sandboxd.daemon.envd.EnvdLaunch;
import io.sandboxd.daemon.runtime.KilledSandboxException;
import io.sandboxd.daemon.runtime.SandboxSnapshot;
import io.sandboxd.daemon.runtime.SandboxSpec;
import io.sandboxd.daemon.runtime.SandboxStats;
import io.sandboxd.daemon.runtime.TemplateNotPreparedException;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The jail runtime on this host with a busybox template: busybox httpd on 49983 stands in for envd.
 * One runtime (pool of 1) serves all tests; each test creates and kills its own sandboxes.
 */
class JailRuntimeTest {
    static final String CGROUP_PARENT = "sandboxd-test";
    static final int PIDS = 64;
    private static final AtomicInteger IDS = new AtomicInteger();

    @TempDir
    static Path dataDir;
    static JailRuntime runtime;

    static JailConfig testConfig(Path dataDir, int poolSize) {
        return JailConfig.forCommand(dataDir, List.of("/bin/httpd", "-f", "-p", String.valueOf(EnvdLaunch.PORT), "-h", "/www"),
                        EnvdLaunch.PORT)
                .withRuncRoot(dataDir.resolve("runc"))
                .withCgroupParent(CGROUP_PARENT)
                .withNetwork(NetworkConfig.defaults().withNamePrefix("sbxt").withSubnet("10.12.0.0/16").withDnsServers(List.of()))
                .withPoolSize(poolSize)
                .withDefaults(1, 128, PIDS)
                .withReadinessPath("/index.html");
    }

    @BeforeAll
    static void start() throws IOException {
        HostAssumptions.assumeJailHost();
        TinyRootfs.create(dataDir);
        runtime = JailRuntime.start(testConfig(dataDir, 1));
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

    /** The handles this class's tests got, by sandbox ID (the orchestrator's table, in small). */
    static final Map<String, JailSandbox> HANDLES = new java.util.concurrent.ConcurrentHashMap<>();

    static JailSandbox create(SandboxSpec spec) {
        JailSandbox sb = runtime.create(spec);
        HANDLES.put(spec.sandboxId(), sb);
        return sb;
    }

    static JailSandbox h(String sandboxId) {
        JailSandbox sb = HANDLES.get(sandboxId);
        if (sb == null) {
            throw new AssertionError("no handle for " + sandboxId);
        }
        return sb;
    }

    /** A jail directory of the pool: one no handle names (killed sandboxes' directories are gone). */
    static Path pooledJailDir() throws IOException {
        java.util.Set<String> claimed = new java.util.HashSet<>();
        HANDLES.values().forEach(sb -> claimed.add(sb.runtimeId()));
        try (var dirs = Files.list(dataDir.resolve("sandboxes"))) {
            return dirs.filter(d -> !claimed.contains(d.getFileName().toString())).findFirst().orElseThrow();
        }
    }

    static SandboxSpec spec(int cpus, int memoryMB, boolean internet) {
        return new SandboxSpec("sb" + IDS.incrementAndGet(), TinyRootfs.TEMPLATE_ID, cpus, memoryMB, Map.of(), internet);
    }

    static String sh(String sandboxId, String script) {
        return h(sandboxId).exec(List.of("/bin/sh", "-c", script), Duration.ofSeconds(20)).orThrow().stdout();
    }

    static Path cgroup(String controller, String sandboxId) {
        return Path.of("/sys/fs/cgroup", controller, CGROUP_PARENT, h(sandboxId).runtimeId());
    }

    static long readLong(Path p) throws IOException {
        return Long.parseLong(Files.readString(p).strip());
    }

    @Test
    void createRunsTheFirstProcessAndTheHostReachesItAtTheSlotAddress() throws Exception {
        SandboxSpec spec = spec(1, 128, false);
        JailSandbox sb = create(spec);
        try {
            assertEquals(EnvdLaunch.PORT, sb.envdAddress().getPort());
            assertEquals(h(spec.sandboxId()).slot().sandboxInetAddress(), sb.envdAddress().getAddress());
            HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                            URI.create("http://" + sb.envdAddress().getAddress().getHostAddress() + ":" + EnvdLaunch.PORT + "/index.html"))
                    .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(200, r.statusCode());
            assertEquals(TinyRootfs.INDEX_HTML, r.body());
            assertEquals("sandbox\n", sh(spec.sandboxId(), "hostname"));
            assertEquals("1\n", sh(spec.sandboxId(), "ps -o pid,comm | grep -c httpd"), "pid namespace: envd's stand-in is alone");
            // Writes land in the sandbox's own upper layer, never in the template.
            sh(spec.sandboxId(), "echo mine > /tmp/f");
            assertEquals("mine\n", Files.readString(h(spec.sandboxId()).rootfs().resolve("tmp/f")));
            assertFalse(Files.exists(dataDir.resolve("templates/tiny/b1/rootfs/tmp/f")));
        } finally {
            h(spec.sandboxId()).kill();
        }
    }

    @Test
    void capabilitiesAreReducedAndSeccompRefusesNamespaces() {
        SandboxSpec spec = spec(1, 128, false);
        create(spec);
        try {
            String status = sh(spec.sandboxId(), "cat /proc/self/status");
            assertTrue(status.contains("Seccomp:\t2"), status);
            String capEff = status.lines().filter(l -> l.startsWith("CapEff:")).findFirst().orElseThrow().split("\\s+")[1];
            long caps = Long.parseLong(capEff, 16);
            assertEquals(0, caps & (1L << 21), "no CAP_SYS_ADMIN");
            assertEquals(0, caps & (1L << 12), "no CAP_NET_ADMIN");
            assertEquals(0, caps & (1L << 13), "no CAP_NET_RAW");
            assertNotEquals(0, caps & (1L << 7), "CAP_SETUID kept so envd can start user processes");
            assertNotEquals(0, caps & (1L << 0), "CAP_CHOWN kept");
            HostCommand.Result unshare = h(spec.sandboxId()).exec(List.of("/bin/unshare", "-U", "-r", "/bin/true"),
                    Duration.ofSeconds(10));
            assertNotEquals(0, unshare.exitCode(), "user namespaces are refused: " + unshare);
            HostCommand.Result mount = h(spec.sandboxId()).exec(List.of("/bin/mount", "-t", "tmpfs", "x", "/tmp"),
                    Duration.ofSeconds(10));
            assertNotEquals(0, mount.exitCode(), "mount is refused: " + mount);
            assertTrue(sh(spec.sandboxId(), "cat /proc/mounts").contains("/opt/sandboxd/jre"), "host JRE mounted");
            HostCommand.Result write = h(spec.sandboxId()).exec(List.of("/bin/sh", "-c", "echo x > /opt/sandboxd/jre/x"),
                    Duration.ofSeconds(10));
            assertNotEquals(0, write.exitCode(), "the JRE is read-only");
        } finally {
            h(spec.sandboxId()).kill();
        }
    }

    @Test
    void limitsFromTheSpecReachTheCgroupsAndMemoryIsEnforced() throws Exception {
        SandboxSpec spec = spec(2, 64, false); // differs from the pool's 1 CPU / 128 MiB: applied with runc update
        create(spec);
        try {
            assertEquals(64L * 1024 * 1024, readLong(cgroup("memory", spec.sandboxId()).resolve("memory.limit_in_bytes")));
            assertEquals(200_000, readLong(cgroup("cpu", spec.sandboxId()).resolve("cpu.cfs_quota_us")));
            assertEquals(100_000, readLong(cgroup("cpu", spec.sandboxId()).resolve("cpu.cfs_period_us")));
            assertEquals(2048, readLong(cgroup("cpu", spec.sandboxId()).resolve("cpu.shares")), "claimed: its own weight");
            assertEquals(String.valueOf(PIDS), Files.readString(cgroup("pids", spec.sandboxId()).resolve("pids.max")).strip());
            // tail buffers /dev/zero looking for a newline: it grows until the memory cgroup kills it.
            HostCommand.Result hog = h(spec.sandboxId()).exec(List.of("/bin/tail", "/dev/zero"), Duration.ofSeconds(60));
            assertEquals(137, hog.exitCode(), "killed by SIGKILL: " + hog);
            String oom = Files.readString(cgroup("memory", spec.sandboxId()).resolve("memory.oom_control"));
            assertTrue(oom.contains("oom_kill 1") || readLong(cgroup("memory", spec.sandboxId()).resolve("memory.failcnt")) > 0, oom);
            SandboxStats stats = h(spec.sandboxId()).stats();
            assertEquals(2, stats.cpuCount());
            assertEquals(64L * 1024 * 1024, stats.memTotal());
            assertTrue(stats.memUsed() > 0 && stats.memUsed() <= stats.memTotal(), stats.toString());
            assertTrue(stats.diskUsed() > 0 && stats.diskTotal() > stats.diskUsed(), stats.toString());
            assertTrue(stats.cpuUsedPct() >= 0 && stats.cpuUsedPct() <= 100, stats.toString());
        } finally {
            h(spec.sandboxId()).kill();
        }
    }

    @Test
    void aForkBombStopsAtThePidsLimit() throws Exception {
        SandboxSpec spec = spec(1, 128, false);
        create(spec);
        try {
            h(spec.sandboxId()).execDetached(List.of("/bin/sh", "-c",
                    "i=0; while [ $i -lt 500 ]; do sleep 60 & i=$((i+1)); done; sleep 60"));
            Path pids = cgroup("pids", spec.sandboxId());
            long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
            String events = "";
            while (System.nanoTime() < deadline) {
                events = Files.readString(pids.resolve("pids.events"));
                if (!events.strip().equals("max 0")) {
                    break;
                }
                Thread.sleep(50);
            }
            assertNotEquals("max 0", events.strip(), "forks were refused at the limit");
            long current = readLong(pids.resolve("pids.current"));
            assertTrue(current <= PIDS, "pids.current " + current + " <= " + PIDS);
        } finally {
            h(spec.sandboxId()).kill();
        }
    }

    @Test
    void pauseFreezesAndResumeContinues() throws Exception {
        SandboxSpec spec = spec(1, 128, false);
        create(spec);
        try {
            h(spec.sandboxId()).execDetached(List.of("/bin/sh", "-c",
                    "i=0; while true; do i=$((i+1)); echo $i > /tmp/counter.new; mv /tmp/counter.new /tmp/counter; usleep 10000; done"));
            Path counter = h(spec.sandboxId()).rootfs().resolve("tmp/counter");
            long first = awaitCounterAbove(counter, 0);
            awaitCounterAbove(counter, first);
            h(spec.sandboxId()).pause();
            long frozen = readLong(counter);
            Thread.sleep(500);
            assertEquals(frozen, readLong(counter), "no progress while paused");
            assertEquals("FROZEN", Files.readString(cgroup("freezer", spec.sandboxId()).resolve("freezer.state")).strip());
            h(spec.sandboxId()).resume();
            awaitCounterAbove(counter, frozen);
        } finally {
            h(spec.sandboxId()).kill();
        }
    }

    private static long awaitCounterAbove(Path counter, long value) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (System.nanoTime() < deadline) {
            if (Files.exists(counter)) {
                String s = Files.readString(counter).strip();
                if (!s.isEmpty() && Long.parseLong(s) > value) {
                    return Long.parseLong(s);
                }
            }
            Thread.sleep(20);
        }
        throw new AssertionError("counter did not pass " + value);
    }

    @Test
    void killRemovesContainerOverlayDirectoryCgroupsNamespaceVethAndFirewallEntry() throws Exception {
        SandboxSpec spec = spec(1, 128, true);
        create(spec);
        String jailId = h(spec.sandboxId()).runtimeId();
        var slot = h(spec.sandboxId()).slot();
        Path jailDir = dataDir.resolve("sandboxes").resolve(jailId);
        JailInventory before = runtime.inventory();
        assertTrue(before.runcContainers().contains(jailId), before.toString());
        assertTrue(before.overlayMounts().contains(jailDir.resolve("rootfs")), before.toString());
        assertTrue(before.netns().contains(slot.netnsName()), before.toString());
        assertTrue(before.veths().contains(slot.hostVeth()), before.toString());
        assertTrue(before.egressAllowed().contains(slot.hostVeth()), before.toString());
        assertTrue(Files.isDirectory(cgroup("memory", spec.sandboxId())));
        Path memCgroup = cgroup("memory", spec.sandboxId());

        h(spec.sandboxId()).pause(); // a paused jail must die too
        h(spec.sandboxId()).kill();

        JailInventory after = runtime.inventory();
        assertFalse(after.runcContainers().contains(jailId), after.toString());
        assertFalse(after.overlayMounts().stream().anyMatch(p -> p.startsWith(jailDir)), after.toString());
        assertFalse(after.jailDirs().contains(jailDir), after.toString());
        assertFalse(after.cgroups().stream().anyMatch(p -> p.endsWith(jailId)), after.toString());
        assertFalse(Files.exists(memCgroup));
        assertFalse(after.netns().contains(slot.netnsName()), after.toString());
        assertFalse(after.veths().contains(slot.hostVeth()), after.toString());
        assertFalse(after.egressAllowed().contains(slot.hostVeth()), after.toString());
        h(spec.sandboxId()).kill(); // a second kill does nothing
        assertThrows(KilledSandboxException.class, () -> h(spec.sandboxId()).pause());
        assertThrows(KilledSandboxException.class, () -> h(spec.sandboxId()).stats());
    }

    @Test
    void noEgressWithoutInternetAccess() throws Exception {
        try (FakeInternet internet = new FakeInternet("sbxtinet", "198.51.100", dataDir.resolve("inet"))) {
            SandboxSpec open = spec(1, 128, true);
            SandboxSpec closed = spec(1, 128, false);
            create(open);
            create(closed);
            try {
                // Pooled jails wait allowed out; the one without internet access lost that before it was handed out.
                List<String> allowed = runtime.inventory().egressAllowed();
                assertTrue(allowed.contains(h(open.sandboxId()).slot().hostVeth()), allowed.toString());
                assertFalse(allowed.contains(h(closed.sandboxId()).slot().hostVeth()), allowed.toString());
                String get = "printf 'GET /index.html HTTP/1.0\\r\\n\\r\\n' | nc -w 3 " + internet.address() + " " + FakeInternet.PORT;
                HostCommand.Result fromOpen = h(open.sandboxId()).exec(List.of("/bin/sh", "-c", get), Duration.ofSeconds(15));
                assertTrue(fromOpen.stdout().contains(FakeInternet.BODY), "allowed sandbox reaches it: " + fromOpen);
                HostCommand.Result fromClosed = h(closed.sandboxId()).exec(List.of("/bin/sh", "-c", get), Duration.ofSeconds(15));
                assertFalse(fromClosed.stdout().contains(FakeInternet.BODY), "blocked sandbox does not: " + fromClosed);
            } finally {
                h(open.sandboxId()).kill();
                h(closed.sandboxId()).kill();
            }
        }
    }

    @Test
    void aPooledJailWhoseFirstProcessDiedIsNotHandedOut() throws Exception {
        assertTrue(runtime.awaitPoolFull(TinyRootfs.TEMPLATE_ID, Duration.ofSeconds(30)));
        Path pooled = pooledJailDir();
        String pid = Files.readString(pooled.resolve("init.pid")).strip();
        HostCommand.check(List.of("kill", "-9", pid));
        long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        while (Files.exists(Path.of("/proc", pid)) && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        SandboxSpec spec = spec(1, 128, false);
        JailSandbox sb = create(spec);
        try {
            assertNotEquals(pooled.getFileName().toString(), h(spec.sandboxId()).runtimeId(), "the dead jail was not used");
            assertFalse(Files.exists(pooled), "the dead jail was removed");
            assertEquals(TinyRootfs.INDEX_HTML, HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://"
                            + sb.envdAddress().getAddress().getHostAddress() + ":" + EnvdLaunch.PORT + "/index.html"))
                    .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString()).body());
        } finally {
            h(spec.sandboxId()).kill();
        }
    }

    @Test
    void createsBeyondThePoolWaitForTheRefillAndPooledJailsRunAtTheLowestWeight() throws Exception {
        assertTrue(runtime.awaitPoolFull(TinyRootfs.TEMPLATE_ID, Duration.ofSeconds(30)));
        Path pooled = pooledJailDir();
        assertEquals(OciSpec.POOLED_CPU_SHARES, readLong(Path.of("/sys/fs/cgroup/cpu", CGROUP_PARENT,
                pooled.getFileName().toString(), "cpu.shares")));
        List<SandboxSpec> specs = List.of(spec(1, 128, true), spec(1, 128, false), spec(1, 128, true));
        List<java.util.concurrent.Future<JailSandbox>> started = new java.util.ArrayList<>();
        try (var creates = java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor()) {
            for (SandboxSpec s : specs) {
                started.add(creates.submit(() -> create(s)));
            }
        }
        try {
            java.util.Set<String> jails = new java.util.HashSet<>();
            for (int i = 0; i < specs.size(); i++) {
                JailSandbox sb = started.get(i).get();
                jails.add(h(specs.get(i).sandboxId()).runtimeId());
                assertEquals(TinyRootfs.INDEX_HTML, HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://"
                                + sb.envdAddress().getAddress().getHostAddress() + ":" + EnvdLaunch.PORT + "/index.html"))
                        .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString()).body());
            }
            assertEquals(specs.size(), jails.size(), "one jail each: " + jails);
        } finally {
            for (SandboxSpec s : specs) {
                h(s.sandboxId()).kill();
            }
        }
    }

    @Test
    void aSnapshotCopiesTheJailsChangesWithWhiteoutsAndLeavesItsStateAsItWas() throws Exception {
        SandboxSpec spec = spec(1, 128, false);
        create(spec);
        Path layer = dataDir.resolve("snapshots").resolve(spec.sandboxId());
        try {
            sh(spec.sandboxId(), "mkdir -p /srv/app && echo kept > /srv/app/file && rm /bin/true");
            SandboxSnapshot snap = h(spec.sandboxId()).snapshot(layer);
            assertEquals(layer.toString(), snap.lowerDirs().getFirst(), "the capture is the top layer");
            assertEquals(TinyRootfs.TEMPLATE_ID, snap.templateId());
            assertTrue(snap.lowerDirs().size() >= 2, "the template's layers stay under it: " + snap.lowerDirs());
            assertFalse(snap.memory(), "a jail's processes are not captured");
            assertEquals("kept\n", Files.readString(layer.resolve("srv/app/file")));
            // the deleted file is an overlay whiteout (a 0/0 character device), so it stays deleted above the template
            String whiteout = HostCommand.check(List.of("stat", "-c", "%F %t:%T", layer.resolve("bin/true").toString()));
            assertEquals("character special file 0:0", whiteout.strip());
            assertEquals("running", runcStatus(spec.sandboxId()), "a running jail runs again after the copy");
            assertEquals("kept\n", sh(spec.sandboxId(), "cat /srv/app/file"));

            h(spec.sandboxId()).pause();
            Path second = layer.resolveSibling(spec.sandboxId() + "-paused");
            h(spec.sandboxId()).snapshot(second);
            assertEquals("paused", runcStatus(spec.sandboxId()), "a paused jail stays paused");
            h(spec.sandboxId()).resume();

            var again = assertThrows(IllegalArgumentException.class, () -> h(spec.sandboxId()).snapshot(layer));
            assertTrue(again.getMessage().contains("exists already"), again.getMessage());
        } finally {
            h(spec.sandboxId()).kill();
        }
        assertThrows(KilledSandboxException.class, () -> h(spec.sandboxId()).snapshot(layer.resolveSibling("late")));
        assertFalse(Files.exists(layer.resolveSibling("late")));
    }

    private static String runcStatus(String sandboxId) throws Exception {
        String json = HostCommand.check(List.of("runc", "--root", dataDir.resolve("runc").toString(), "state",
                h(sandboxId).runtimeId()));
        return new ObjectMapper().readTree(json).path("status").asText();
    }

    @Test
    void misuseGetsClearErrors() {
        var e = assertThrows(TemplateNotPreparedException.class,
                () -> create(new SandboxSpec("x1", "unknown", 1, 128, Map.of(), false)));
        assertTrue(e.getMessage().contains("not prepared"), e.getMessage());
    }
}
