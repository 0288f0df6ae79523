package io.sandboxd.daemon.runtime.jail;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sandboxd.daemon.envd.EnvdLaunch;
import io.sandboxd.daemon.host.HostAssumptions;
import io.sandboxd.daemon.host.HostCommand;
import io.sandboxd.daemon.network.FakeInternet;
import io.sandboxd.daemon.network.Ipv4Cidr;
import io.sandboxd.daemon.network.NetworkConfig;
import io.sandboxd.daemon.runtime.SandboxSpec;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a sandbox can see and reach, checked from inside two jails of the same runtime, as root inside the jail and
 * as an unprivileged user (busybox {@code su}, which drops every capability the way envd does for {@code user}).
 * Every refusal has a control that shows the same probe succeeds where it should (the host sees its own marker,
 * the host reaches B's listeners, A reaches a public address), so a probe that cannot work cannot pass.
 *
 * <p>Sandbox A may go out (through {@link FakeInternet}), B may not; busybox httpd on envd's port stands in for
 * envd. The fork bomb and the memory hog run in a third jail of their own, made and killed by their test.
 */
class JailIsolationTest {
    static final String CGROUP_PARENT = "sandboxd-itest";
    static final String PREFIX = "sbxi";
    static final String SUBNET = "10.17.0.0/16";
    static final int PIDS = 64;
    static final int HOG_MEMORY_MB = 64;
    static final String LISTENER_BODY = "host-listener-reached";
    private static final String RUN = HexFormat.of().formatHex(randomBytes());
    private static final AtomicInteger IDS = new AtomicInteger();

    /** Who runs a probe inside a jail. */
    enum Who {
        ROOT, USER;

        List<String> argv(String script) {
            return this == ROOT ? List.of("/bin/sh", "-c", script)
                    : List.of("/bin/busybox", "su", "-s", "/bin/sh", "user", "-c", script);
        }
    }

    @TempDir
    static Path dataDir;
    static JailRuntime runtime;
    static JailSandbox a;
    static JailSandbox b;
    static FakeInternet internet;

    @BeforeAll
    static void start() throws IOException {
        HostAssumptions.assumeJailHost();
        TinyRootfs.create(dataDir);
        JailConfig config = JailConfig.forCommand(dataDir,
                        List.of("/bin/httpd", "-f", "-p", String.valueOf(EnvdLaunch.PORT), "-h", "/www"), EnvdLaunch.PORT)
                .withRuncRoot(dataDir.resolve("runc"))
                .withCgroupParent(CGROUP_PARENT)
                .withNetwork(NetworkConfig.defaults().withNamePrefix(PREFIX).withSubnet(SUBNET).withDnsServers(List.of()))
                .withPoolSize(1)
                .withDefaults(1, 128, PIDS)
                .withReadinessPath("/index.html");
        runtime = JailRuntime.start(config);
        runtime.reconcile();
        runtime.prepareTemplate(TinyRootfs.TEMPLATE_ID, line -> { });
        a = runtime.create(spec(128, true));
        b = runtime.create(spec(128, false));
        // a second listener in each, on a port nothing else uses, so that a refusal there is the firewall's too
        a.execDetached(List.of("/bin/httpd", "-f", "-p", "8000", "-h", "/www"));
        b.execDetached(List.of("/bin/httpd", "-f", "-p", "8000", "-h", "/www"));
        internet = new FakeInternet("sbxiinet", "203.0.113", dataDir.resolve("inet"));
        assertTrue(runtime.awaitPoolFull(TinyRootfs.TEMPLATE_ID, Duration.ofSeconds(30)), "the pool fills");
    }

    @AfterAll
    static void stop() {
        if (internet != null) {
            internet.close();
        }
        if (runtime != null) {
            runtime.close();
            JailInventory left = runtime.inventory();
            assertTrue(left.isEmpty(), "close leaves nothing: " + left);
        }
    }

    // ---- processes -------------------------------------------------------------------------------------------

    @Test
    void onlyTheSandboxsOwnProcessesAreVisible() throws Exception {
        String hostMarker = "host-marker-" + RUN;
        String bMarker = "b-marker-" + RUN;
        Process host = new ProcessBuilder("sh", "-c", "while :; do sleep 1; done", hostMarker)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectErrorStream(true).start();
        b.execDetached(List.of("/bin/sh", "-c", "while :; do sleep 1; done", bMarker));
        try {
            String hostPid1 = cmdline(Path.of("/proc/1/cmdline"));
            String hostProcs = HostCommand.check(List.of("ps", "-eo", "pid,args"));
            assertTrue(hostProcs.contains(hostMarker), "control: the host sees its marker process");
            awaitOutput(b, Who.ROOT, "ps -o pid,args", bMarker);
            for (Who who : Who.values()) {
                String ps = run(a, who, "ps -o pid,user,args").orThrow().stdout();
                String cmdlines = run(a, who, "for p in /proc/[0-9]*; do echo \"${p#/proc/} $(busybox tr '\\0' ' ' < $p/cmdline)\"; done")
                        .orThrow().stdout();
                for (String seen : List.of(ps, cmdlines)) {
                    assertFalse(seen.contains(hostMarker), who + " sees a host process: " + seen);
                    assertFalse(seen.contains(bMarker), who + " sees sandbox B's process: " + seen);
                    assertFalse(seen.contains("java") || seen.contains("surefire"), who + " sees the daemon: " + seen);
                }
                // PID 1 is the jail's own first process, not the host's init
                assertTrue(cmdlines.lines().anyMatch(l -> l.equals("1 /bin/httpd -f -p 49983 -h /www ")), cmdlines);
                if (!hostPid1.startsWith("/bin/httpd")) {
                    assertFalse(cmdlines.contains(hostPid1), who + " sees host PID 1 (" + hostPid1 + "): " + cmdlines);
                }
                // what is left: httpd, the probe's own shell (and su) and the processes it runs
                long count = cmdlines.lines().filter(l -> !l.isBlank()).count();
                assertTrue(count <= 6, who + " sees " + count + " processes: " + cmdlines);
                // a signal to a host PID reaches nothing (the number means nothing inside)
                HostCommand.Result kill = run(a, who, "kill -0 " + host.pid());
                assertNotEquals(0, kill.exitCode(), who + " signals host PID " + host.pid() + ": " + kill);
            }
            assertTrue(host.isAlive(), "the host's marker process lives on");
        } finally {
            host.destroyForcibly();
            host.waitFor();
        }
    }

    // ---- files -----------------------------------------------------------------------------------------------

    @Test
    void hostFilesAndTheOtherSandboxsFilesAreInvisible() throws Exception {
        String secret = "secret-" + RUN;
        Path hostTmp = Path.of("/tmp", "sandboxd-isolation-" + RUN);
        Path hostRoot = Path.of("/root", ".sandboxd-isolation-" + RUN);
        Path inDataDir = dataDir.resolve("host-marker-" + RUN);
        Files.writeString(hostTmp, secret);
        Files.writeString(hostRoot, secret);
        Files.writeString(inDataDir, secret);
        try {
            run(b, Who.ROOT, "echo " + secret + " > /tmp/b-marker-" + RUN + " && echo " + secret + " > /root/b-marker-" + RUN)
                    .orThrow();
            assertEquals(secret + "\n", Files.readString(b.rootfs().resolve("tmp/b-marker-" + RUN)), "control: B's marker is in B");
            String hostName = HostCommand.check(List.of("hostname")).strip();
            for (Who who : Who.values()) {
                // by name, anywhere in the jail's tree (the kernel's own /proc and /sys left out)
                String found = run(a, who, "busybox find / -path /proc -prune -o -path /sys -prune -o -name '*" + RUN + "*' -print 2>/dev/null")
                        .stdout();
                assertEquals("", found, who + " finds a marker");
                // by the host paths themselves
                for (Path p : List.of(hostTmp, hostRoot, inDataDir, b.rootfs().resolve("tmp/b-marker-" + RUN), dataDir,
                        b.rootfs())) {
                    HostCommand.Result r = run(a, who, "ls -d " + p);
                    assertNotEquals(0, r.exitCode(), who + " sees host path " + p + ": " + r);
                    assertTrue(r.stderr().contains("No such file or directory"), r.toString());
                }
                // by content, where a leak would land
                HostCommand.Result grep = run(a, who, "grep -rl " + secret + " /tmp /root /etc /www /dev/shm 2>/dev/null");
                assertEquals("", grep.stdout(), who + " finds the secret");
                assertEquals("", run(a, who, "ls -A /root").orThrow().stdout(), who + ": /root is the template's empty one");
                assertEquals("sandbox\n", run(a, who, "hostname").orThrow().stdout());
                assertNotEquals(hostName, "sandbox", "control: the host has its own name");
                HostCommand.Result etcHostname = run(a, who, "cat /etc/hostname");
                assertFalse(etcHostname.stdout().contains(hostName), who + " reads the host's /etc/hostname: " + etcHostname);
                // no host device and no host directory bound in, beyond the jail's known mounts
                assertEquals("", run(a, who, "busybox find /dev -type b -o -type c -name 'kvm' -o -type c -name 'mem' -o -name 'sd*' -o -name 'nvme*'")
                        .orThrow().stdout(), who + " sees host devices");
                for (String line : run(a, who, "cat /proc/mounts").orThrow().stdout().lines().toList()) {
                    String mountPoint = line.split(" ")[1];
                    assertTrue(mountPoint.equals("/") || mountPoint.startsWith("/proc") || mountPoint.startsWith("/dev")
                                    || mountPoint.startsWith("/sys") || mountPoint.startsWith(EnvdLaunch.JRE_PATH)
                                    || mountPoint.equals("/etc/resolv.conf") || mountPoint.equals("/etc/hosts"),
                            who + " has an unexpected mount: " + line);
                }
            }
        } finally {
            Files.deleteIfExists(hostTmp);
            Files.deleteIfExists(hostRoot);
            Files.deleteIfExists(inDataDir);
        }
    }

    // ---- network ---------------------------------------------------------------------------------------------

    @Test
    void hostServicesOtherSandboxesAndPooledJailsAreNotReachableByAddress() throws Exception {
        assertTrue(runtime.awaitPoolFull(TinyRootfs.TEMPLATE_ID, Duration.ofSeconds(30)), "a pooled jail is there to probe");
        try (HostListener any = new HostListener(null); HostListener loopback = new HostListener(InetAddress.getLoopbackAddress())) {
            for (JailSandbox from : List.of(a, b)) {
                JailSandbox other = from == a ? b : a;
                Map<String, String> targets = new LinkedHashMap<>();
                // the API and the proxy listen on the host: on loopback, on every address, on the slot's gateway
                targets.put("host-loopback", "127.0.0.1 " + loopback.port());
                targets.put("own-gateway", from.slot().hostIp() + " " + any.port());
                targets.put("own-gateway-loopback-listener", from.slot().hostIp() + " " + loopback.port());
                targets.put("other-gateway", other.slot().hostIp() + " " + any.port());
                int i = 0;
                for (String addr : hostAddresses()) {
                    targets.put("host-address-" + i++, addr + " " + any.port());
                }
                for (String addr : hostAddresses6()) {
                    targets.put("host-address6-" + i++, addr + " " + any.port());
                }
                String gw6 = linkLocal(from.slot().hostVeth());
                assertTrue(gw6 != null || Files.readString(Path.of("/proc/sys/net/ipv6/conf", from.slot().hostVeth(),
                        "disable_ipv6")).strip().equals("1"), "the veth's link-local address is probed wherever it has one");
                if (gw6 != null) {
                    targets.put("own-gateway-ipv6", gw6 + "%eth0 " + any.port());
                }
                // the other sandbox's envd and another of its ports, and every other jail of the runtime (the pool)
                targets.put("other-envd", other.slot().sandboxIp() + " " + EnvdLaunch.PORT);
                targets.put("other-port-8000", other.slot().sandboxIp() + " 8000");
                for (String ns : runtime.inventory().netns()) {
                    int slot = Integer.parseInt(ns.substring(PREFIX.length() + 1));
                    int base = Ipv4Cidr.parse(SUBNET).network() + slot * 4;
                    if (base + 2 != Ipv4Cidr.parseAddress(from.slot().sandboxIp())) {
                        targets.put("jail-" + slot + "-envd", Ipv4Cidr.format(base + 2) + " " + EnvdLaunch.PORT);
                        targets.put("jail-" + slot + "-gateway", Ipv4Cidr.format(base + 1) + " " + any.port());
                    }
                }
                // controls: each listener answers the host there, so nothing below fails for want of a listener
                for (Map.Entry<String, String> t : targets.entrySet()) {
                    if (t.getKey().equals("host-loopback") || t.getKey().equals("own-gateway-loopback-listener")) {
                        continue; // loopback-only: the host reaches it at 127.0.0.1 (below), not at other addresses
                    }
                    String[] hp = t.getValue().split(" ");
                    String host = hp[0].contains(":") ? "[" + hp[0].replace("%eth0", "%25" + from.slot().hostVeth()) + "]" : hp[0];
                    String body = HostCommand.run(List.of("curl", "-g", "-s", "-m", "5", "http://" + host + ":" + hp[1] + "/index.html"))
                            .stdout();
                    assertTrue(body.contains(LISTENER_BODY) || body.equals(TinyRootfs.INDEX_HTML),
                            "control: the host reaches " + t.getKey() + " (" + t.getValue() + "): '" + body + "'");
                }
                assertTrue(HostCommand.check(List.of("curl", "-s", "-m", "5", "http://127.0.0.1:" + loopback.port() + "/"))
                        .contains(LISTENER_BODY), "control: the loopback listener answers the host");

                System.out.println("probing " + targets.size() + " addresses from " + (from == a ? "A" : "B") + ": " + targets);
                for (Who who : Who.values()) {
                    int before = any.accepted() + loopback.accepted();
                    Map<String, String> got = probe(from, who, targets);
                    for (Map.Entry<String, String> r : got.entrySet()) {
                        assertFalse(r.getValue().contains(LISTENER_BODY) || r.getValue().contains(TinyRootfs.INDEX_HTML.strip()),
                                who + " in " + (from == a ? "A" : "B") + " reached " + r.getKey() + " (" + targets.get(r.getKey())
                                        + "): " + r.getValue());
                        assertFalse(r.getValue().startsWith("exit=0"), who + " connected to " + r.getKey() + ": " + r.getValue());
                    }
                    assertEquals(targets.keySet(), got.keySet(), "every probe reported");
                    assertEquals(before, any.accepted() + loopback.accepted(), "no connection from the sandbox reached the host listeners");

                    // controls from inside: the same probe reaches what it may reach
                    Map<String, String> own = new LinkedHashMap<>();
                    own.put("own-envd", "127.0.0.1 " + EnvdLaunch.PORT);
                    if (gw6 != null) {
                        own.put("own-envd-ipv6", linkLocalInside(from) + "%eth0 " + EnvdLaunch.PORT);
                    }
                    if (from == a) {
                        own.put("internet", internet.address() + " " + FakeInternet.PORT);
                    }
                    for (Map.Entry<String, String> r : probe(from, who, own).entrySet()) {
                        assertTrue(r.getValue().contains(r.getKey().equals("internet") ? FakeInternet.BODY.strip()
                                : TinyRootfs.INDEX_HTML.strip()), "control: " + who + " reaches " + r.getKey() + ": " + r.getValue());
                    }
                }
            }
        }
    }

    /** Probes every target at once from inside: a GET over busybox nc, one output line per target. */
    private static Map<String, String> probe(JailSandbox sb, Who who, Map<String, String> targets) {
        StringBuilder script = new StringBuilder();
        for (Map.Entry<String, String> t : targets.entrySet()) {
            script.append("( r=$(printf 'GET /index.html HTTP/1.0\\r\\n\\r\\n' | nc -w 3 ").append(t.getValue())
                    .append(" 2>&1); echo \"").append(t.getKey()).append(" exit=$? \"$r ) &\n");
        }
        script.append("wait\n");
        String out = run(sb, who, script.toString()).orThrow().stdout();
        Map<String, String> got = new LinkedHashMap<>();
        for (String line : out.split("\n")) { // not lines(): the HTTP answers' CRs must stay inside their line
            int sp = line.indexOf(' ');
            if (sp > 0 && targets.containsKey(line.substring(0, sp))) {
                got.put(line.substring(0, sp), line.substring(sp + 1));
            }
        }
        return got;
    }

    // ---- privileged operations -------------------------------------------------------------------------------

    @Test
    void mountsNamespacesKernelSettingsAndDevicesAreRefused() {
        String thp = selected("/sys/kernel/mm/transparent_hugepage/enabled");
        for (Who who : Who.values()) {
            String eperm = "Operation not permitted";
            // the read-only mounts answer before the files' own permissions, for the user too
            String roWrite = "Read-only file system";
            assertEquals(who == Who.ROOT ? "uid=0(root) gid=0(root)" : "uid=1000(user) gid=1000(user)",
                    run(a, who, "id").orThrow().stdout().strip().replaceAll(" groups=.*", ""));
            String capEff = run(a, who, "grep CapEff /proc/self/status").orThrow().stdout().strip();
            if (who == Who.USER) {
                assertEquals("CapEff:\t0000000000000000", capEff, "the user holds no capability");
            }
            Map<String, String> refused = new LinkedHashMap<>();
            refused.put("mount -t tmpfs none /tmp", "mount: permission denied (are you root?)");
            refused.put("mount --bind / /dev/shm", "mount: permission denied (are you root?)");
            refused.put("mount -o remount,rw /proc/sys", "mount: permission denied (are you root?)");
            refused.put("umount /etc/hosts", "umount: can't unmount /etc/hosts: " + eperm);
            refused.put("unshare -m true", "unshare: unshare(0x20000): " + eperm);
            refused.put("unshare -n true", "unshare: unshare(0x40000000): " + eperm);
            refused.put("unshare -U true", "unshare: unshare(0x10000000): " + eperm);
            refused.put("unshare -U -r true", "unshare: unshare(0x10000000): " + eperm);
            refused.put("unshare -p -f true", "unshare: unshare(0x20000000): " + eperm);
            // the user may not even open another user's namespace; root opens it and seccomp refuses the setns
            refused.put("busybox nsenter -t 1 -n true", who == Who.ROOT
                    ? "nsenter: setns(): can't reassociate to namespace 'net': " + eperm
                    : "nsenter: can't open '/proc/1/ns/net': Permission denied");
            refused.put("echo sandbox > /proc/sys/kernel/hostname", "/proc/sys/kernel/hostname: " + roWrite);
            refused.put("v=$(cat /proc/sys/vm/overcommit_memory); echo $v > /proc/sys/vm/overcommit_memory",
                    "/proc/sys/vm/overcommit_memory: " + roWrite);
            refused.put("v=$(cat /proc/sys/net/ipv4/ip_forward); echo $v > /proc/sys/net/ipv4/ip_forward",
                    "/proc/sys/net/ipv4/ip_forward: " + roWrite);
            // the classic way out of a container: a core pattern that pipes to a host program (written back as is)
            refused.put("cat /proc/sys/kernel/core_pattern > /proc/sys/kernel/core_pattern", "/proc/sys/kernel/core_pattern: " + roWrite);
            if (Files.exists(Path.of("/proc/sysrq-trigger"))) { // kernels without CONFIG_MAGIC_SYSRQ have none
                refused.put("echo h > /proc/sysrq-trigger", "/proc/sysrq-trigger: " + roWrite);
            }
            refused.put("v=$(cat /sys/class/net/eth0/mtu); echo $v > /sys/class/net/eth0/mtu", "/sys/class/net/eth0/mtu: " + roWrite);
            refused.put("echo " + thp + " > /sys/kernel/mm/transparent_hugepage/enabled",
                    "/sys/kernel/mm/transparent_hugepage/enabled: " + roWrite);
            refused.put("busybox mknod /dev/shm/disk-" + RUN + " b 8 0", "mknod: /dev/shm/disk-" + RUN + ": " + eperm);
            refused.put("hostname host", "hostname: sethostname: " + eperm);
            // date reports the failure but exits 0 and prints the date it wanted: the clock itself is the check
            refused.put("busybox date -s 2001-01-01 >/dev/null && [ \"$(date +%Y)\" = 2001 ]", "date: can't set date: " + eperm);
            refused.put("busybox ip link set eth0 mtu 1300", "ip: SIOCSIFMTU: " + eperm);
            refused.put("busybox ip addr add " + b.slot().sandboxIp() + "/30 dev eth0", "RTNETLINK answers: " + eperm);
            refused.put("busybox dmesg", "dmesg: klogctl: " + eperm);
            List<String> wrong = new ArrayList<>();
            for (Map.Entry<String, String> c : refused.entrySet()) {
                HostCommand.Result r = run(a, who, c.getKey());
                if (r.exitCode() == 0) {
                    wrong.add("'" + c.getKey() + "' succeeded: " + r);
                } else if (!(r.stdout() + r.stderr()).contains(c.getValue())) {
                    wrong.add("'" + c.getKey() + "' failed otherwise than with '" + c.getValue() + "': " + r.stderr().strip());
                }
            }
            assertEquals(List.of(), wrong, who + ": " + refused.size() + " refusals");
        }
        // nothing changed: the jail's name, address and MTU, the host's THP setting
        assertEquals("sandbox\n", run(a, Who.ROOT, "cat /proc/sys/kernel/hostname").orThrow().stdout());
        String eth0 = run(a, Who.ROOT, "busybox ip -4 addr show eth0").orThrow().stdout();
        assertTrue(eth0.contains(a.slot().sandboxIp() + "/30") && !eth0.contains(b.slot().sandboxIp()), eth0);
        assertEquals(thp, selected("/sys/kernel/mm/transparent_hugepage/enabled"));
        assertFalse(Files.exists(a.rootfs().resolve("dev/shm/disk-" + RUN)));
    }

    // ---- resources -------------------------------------------------------------------------------------------

    @Test
    void aForkBombStopsAtThePidsLimitAndTheSandboxRecovers() throws Exception {
        JailSandbox c = runtime.create(spec(128, false));
        try {
            Path pids = cgroupDir("pids", c);
            assertEquals(String.valueOf(PIDS), Files.readString(pids.resolve("pids.max")).strip());
            long baseline = readLong(pids.resolve("pids.current"));
            Path stop = c.rootfs().resolve("tmp/stop-bomb");
            for (Who who : Who.values()) {
                long refusedBefore = maxEvents(pids);
                // Every copy forks copies of itself until the host says stop; a copy whose fork fails exits, so the
                // jail stays at its limit with copies dying and being replaced.
                c.execDetached(who.argv("exec 2>/dev/null; b() { while [ ! -e /tmp/stop-bomb ]; do b & done; }; b"));
                long most = 0;
                boolean hostForked = false;
                boolean othersWork = false;
                long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
                long sawLimitAt = 0;
                try {
                    while (System.nanoTime() < deadline) {
                        most = Math.max(most, readLong(pids.resolve("pids.current")));
                        if (sawLimitAt == 0 && maxEvents(pids) > refusedBefore) {
                            sawLimitAt = System.nanoTime();
                            hostForked = HostCommand.run(List.of("true")).ok();
                            othersWork = run(a, Who.ROOT, "echo alive").orThrow().stdout().equals("alive\n")
                                    && run(b, Who.USER, "echo alive").orThrow().stdout().equals("alive\n");
                        }
                        if (sawLimitAt != 0 && System.nanoTime() - sawLimitAt > Duration.ofSeconds(2).toNanos()) {
                            break;
                        }
                        Thread.sleep(2);
                    }
                } finally {
                    Files.writeString(stop, "stop");
                }
                assertNotEquals(0, sawLimitAt, who + ": the bomb reached the limit (pids.events " + maxEvents(pids) + ")");
                assertTrue(most <= PIDS, who + ": " + most + " tasks > limit " + PIDS);
                assertTrue(most >= PIDS - 4, who + ": the bomb filled the jail (" + most + ")");
                assertTrue(hostForked, "the host still forks while the jail is at its limit");
                assertTrue(othersWork, "the other sandboxes still run commands");
                // the bomb winds down by itself once told to, and the jail works again
                awaitPidsAtMost(pids, baseline, Duration.ofSeconds(30));
                Files.delete(stop);
                assertEquals("recovered\n", run(c, who, "echo recovered").orThrow().stdout());
                assertEquals(TinyRootfs.INDEX_HTML, fetch(c.slot().sandboxIp(), EnvdLaunch.PORT), "its envd serves again");
            }
        } finally {
            c.kill();
        }
    }

    @Test
    void aMemoryHogIsOomKilledInsideItsOwnCgroupOnly() throws Exception {
        JailSandbox c = runtime.create(spec(HOG_MEMORY_MB, false));
        try {
            Path memory = cgroupDir("memory", c);
            assertEquals(HOG_MEMORY_MB * 1024L * 1024L, readLong(memory.resolve("memory.limit_in_bytes")));
            long othersBefore = oomKills(a) + oomKills(b);
            long hostOomBefore = hostOomKills();
            long jailOomBefore = oomKills(c);
            for (Who who : Who.values()) {
                long before = oomKills(c);
                // tail buffers /dev/zero looking for a newline that never comes
                HostCommand.Result hog = c.exec(who.argv("exec tail /dev/zero"), Duration.ofSeconds(60));
                assertEquals(137, hog.exitCode(), who + ": the hog dies of SIGKILL: " + hog);
                assertTrue(oomKills(c) > before, who + ": the kill is the jail's own OOM kill: "
                        + Files.readString(memory.resolve("memory.oom_control")));
                assertTrue(readLong(memory.resolve("memory.max_usage_in_bytes")) <= HOG_MEMORY_MB * 1024L * 1024L,
                        "usage stayed within the limit");
                assertEquals(TinyRootfs.INDEX_HTML, fetch(c.slot().sandboxIp(), EnvdLaunch.PORT), "the jail's envd survives");
                assertEquals("still here\n", run(c, who, "echo still here").orThrow().stdout());
            }
            assertEquals(othersBefore, oomKills(a) + oomKills(b), "no OOM kill in the other sandboxes");
            assertEquals(oomKills(c) - jailOomBefore, hostOomKills() - hostOomBefore,
                    "the host's OOM kills are the jail's: none outside its cgroup");
            assertEquals(TinyRootfs.INDEX_HTML, fetch(a.slot().sandboxIp(), EnvdLaunch.PORT));
            assertEquals(TinyRootfs.INDEX_HTML, fetch(b.slot().sandboxIp(), EnvdLaunch.PORT));
        } finally {
            c.kill();
        }
    }

    // ---- helpers ---------------------------------------------------------------------------------------------

    static SandboxSpec spec(int memoryMB, boolean internet) {
        return new SandboxSpec("iso" + IDS.incrementAndGet(), TinyRootfs.TEMPLATE_ID, 1, memoryMB, Map.of(), internet);
    }

    static HostCommand.Result run(JailSandbox sb, Who who, String script) {
        return sb.exec(who.argv(script), Duration.ofSeconds(30));
    }

    private static void awaitOutput(JailSandbox sb, Who who, String script, String expected) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        String last = "";
        while (System.nanoTime() < deadline) {
            last = run(sb, who, script).stdout();
            if (last.contains(expected)) {
                return;
            }
            Thread.sleep(50);
        }
        throw new AssertionError("'" + script + "' never printed " + expected + ": " + last);
    }

    private static String cmdline(Path p) throws IOException {
        return new String(Files.readAllBytes(p), StandardCharsets.UTF_8).replace('\0', ' ');
    }

    /** The host's global IPv4 addresses outside the sandbox subnet (where a daemon on 0.0.0.0 listens too). */
    private static List<String> hostAddresses() {
        List<String> out = new ArrayList<>();
        Ipv4Cidr subnet = Ipv4Cidr.parse(SUBNET);
        for (String line : HostCommand.check(List.of("ip", "-4", "-o", "addr", "show", "scope", "global")).lines().toList()) {
            String[] f = line.trim().split("\\s+");
            for (int i = 0; i + 1 < f.length; i++) {
                if (f[i].equals("inet")) {
                    String addr = f[i + 1].substring(0, f[i + 1].indexOf('/'));
                    if (!subnet.contains(Ipv4Cidr.parseAddress(addr)) && out.size() < 3) {
                        out.add(addr);
                    }
                }
            }
        }
        return out;
    }

    /** The host's global IPv6 addresses (a sandbox has no IPv6 route, and nothing may give it one). */
    private static List<String> hostAddresses6() {
        List<String> out = new ArrayList<>();
        for (String line : HostCommand.check(List.of("ip", "-6", "-o", "addr", "show", "scope", "global")).lines().toList()) {
            String[] f = line.trim().split("\\s+");
            for (int i = 0; i + 1 < f.length; i++) {
                if (f[i].equals("inet6") && out.size() < 2) {
                    out.add(f[i + 1].substring(0, f[i + 1].indexOf('/')));
                }
            }
        }
        return out;
    }

    /** The link-local IPv6 address of a host interface, once it is usable; null where IPv6 is off. */
    private static String linkLocal(String dev) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        while (System.nanoTime() < deadline) {
            String out = HostCommand.run(List.of("ip", "-6", "-o", "addr", "show", "dev", dev, "scope", "link")).stdout();
            if (out.isBlank()) {
                return null;
            }
            if (!out.contains("tentative")) {
                String[] f = out.trim().split("\\s+");
                for (int i = 0; i + 1 < f.length; i++) {
                    if (f[i].equals("inet6")) {
                        return f[i + 1].substring(0, f[i + 1].indexOf('/'));
                    }
                }
            }
            Thread.sleep(100);
        }
        return null;
    }

    private static String linkLocalInside(JailSandbox sb) {
        String out = run(sb, Who.ROOT, "busybox ip -6 -o addr show dev eth0 scope link").stdout();
        String[] f = out.trim().split("\\s+");
        for (int i = 0; i + 1 < f.length; i++) {
            if (f[i].equals("inet6")) {
                return f[i + 1].substring(0, f[i + 1].indexOf('/'));
            }
        }
        throw new AssertionError("no link-local address inside: " + out);
    }

    private static String selected(String sysfsChoice) {
        try {
            String s = Files.readString(Path.of(sysfsChoice));
            return s.substring(s.indexOf('[') + 1, s.indexOf(']'));
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    static Path cgroupDir(String controller, JailSandbox sb) {
        return Path.of("/sys/fs/cgroup", controller, CGROUP_PARENT, sb.runtimeId());
    }

    static long readLong(Path p) throws IOException {
        return Long.parseLong(Files.readString(p).strip());
    }

    private static long maxEvents(Path pidsCgroup) throws IOException {
        return Long.parseLong(Files.readString(pidsCgroup.resolve("pids.events")).strip().split("\\s+")[1]);
    }

    private static void awaitPidsAtMost(Path pidsCgroup, long n, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        long current;
        while ((current = readLong(pidsCgroup.resolve("pids.current"))) > n) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("the jail still has " + current + " tasks, not " + n);
            }
            Thread.sleep(20);
        }
    }

    private static long oomKills(JailSandbox sb) throws IOException {
        return oomKillCount(cgroupDir("memory", sb).resolve("memory.oom_control"));
    }

    /** OOM kills anywhere on the host since boot. */
    private static long hostOomKills() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/vmstat"))) {
            if (line.startsWith("oom_kill ")) {
                return Long.parseLong(line.substring("oom_kill ".length()).strip());
            }
        }
        return 0;
    }

    private static long oomKillCount(Path oomControl) throws IOException {
        for (String line : Files.readAllLines(oomControl)) {
            if (line.startsWith("oom_kill ")) {
                return Long.parseLong(line.substring("oom_kill ".length()).strip());
            }
        }
        throw new AssertionError(oomControl + " has no oom_kill count");
    }

    private static String fetch(String ip, int port) {
        return HostCommand.check(List.of("curl", "-s", "-f", "-m", "5", "http://" + ip + ":" + port + "/index.html"));
    }

    private static byte[] randomBytes() {
        byte[] bytes = new byte[6];
        ThreadLocalRandom.current().nextBytes(bytes);
        return bytes;
    }

    /** A stand-in for the daemon's API or proxy: answers any request with a marker and counts connections. */
    static final class HostListener implements AutoCloseable {
        private final ServerSocket socket;
        private final AtomicInteger accepted = new AtomicInteger();

        /** @param bind null: every address of the host, IPv4 and IPv6 */
        HostListener(InetAddress bind) throws IOException {
            socket = new ServerSocket(0, 50, bind);
            Thread.ofPlatform().daemon().name("host-listener-" + socket.getLocalPort()).start(this::serve);
        }

        int port() {
            return socket.getLocalPort();
        }

        int accepted() {
            return accepted.get();
        }

        private void serve() {
            while (!socket.isClosed()) {
                try (Socket s = socket.accept()) {
                    accepted.incrementAndGet();
                    s.setSoTimeout(2000);
                    readHead(s.getInputStream());
                    OutputStream out = s.getOutputStream();
                    out.write(("HTTP/1.0 200 OK\r\nContent-Length: " + (LISTENER_BODY.length() + 1) + "\r\n\r\n" + LISTENER_BODY + "\n")
                            .getBytes(StandardCharsets.US_ASCII));
                    out.flush();
                } catch (IOException e) {
                    // closed, or a client that went away: keep serving until close
                }
            }
        }

        private static void readHead(InputStream in) throws IOException {
            int matched = 0;
            byte[] end = {'\r', '\n', '\r', '\n'};
            int c;
            while ((c = in.read()) >= 0) {
                matched = c == end[matched] ? matched + 1 : (c == '\r' ? 1 : 0);
                if (matched == 4) {
                    return;
                }
            }
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }
}
