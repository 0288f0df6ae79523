package io.sandboxd.daemon.host;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sandboxd.daemon.host.Capability.Status;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HostCapabilitiesTest {
    @TempDir
    Path root;

    private void touch(String rel, String content) throws IOException {
        Path p = root.resolve(rel);
        Files.createDirectories(p.getParent());
        Files.writeString(p, content);
    }

    private void fullJailHost() throws IOException {
        for (String c : List.of("cpu", "memory", "pids", "freezer")) {
            touch("sys/fs/cgroup/" + c + "/cgroup.procs", "");
        }
        touch("proc/filesystems", "nodev\tcgroup\nnodev\toverlay\n");
        for (String ns : List.of("pid", "mnt", "net", "uts", "ipc")) {
            touch("proc/self/ns/" + ns, "");
        }
        touch("proc/self/status", "Name:\tjava\nUid:\t0\t0\t0\t0\n");
    }

    @Test
    void pvmIsReportedAsSoftwareKvmAndPicksTheJailRuntime() throws IOException {
        fullJailHost();
        touch("dev/kvm", "");
        Files.createDirectories(root.resolve("sys/module/kvm_pvm"));
        List<Capability> caps = HostCapabilities.underRoot(root).probe();
        Capability kvm = caps.get(0);
        assertEquals(Status.LIMITED, kvm.status());
        assertTrue(kvm.line().startsWith("kvm: limited - PVM"), kvm.line());
        Capability verdict = HostCapabilities.runtimeVerdict(caps);
        assertTrue(verdict.detail().startsWith("jail"), verdict.line());
    }

    @Test
    void hardwareKvmPicksTheVmRuntime() throws IOException {
        fullJailHost();
        touch("dev/kvm", "");
        Files.createDirectories(root.resolve("sys/module/kvm_intel"));
        List<Capability> caps = HostCapabilities.underRoot(root).probe();
        assertEquals("kvm: ok - hardware-backed (Intel VT-x): microVM sandboxes available", caps.get(0).line());
        assertTrue(HostCapabilities.runtimeVerdict(caps).detail().startsWith("vm"));
    }

    @Test
    void bareHostHasNoRuntimeAndSaysWhatIsMissing() throws IOException {
        touch("proc/filesystems", "nodev\tsysfs\n");
        List<Capability> caps = HostCapabilities.underRoot(root).probe();
        caps.forEach(c -> assertEquals(Status.MISSING, c.status(), c.line()));
        assertEquals(List.of("kvm", "userfaultfd", "tun", "nbd", "cgroups", "overlayfs", "namespaces"),
                caps.stream().map(Capability::name).toList());
        assertTrue(caps.get(0).detail().contains("kvm_intel or kvm_amd"), caps.get(0).line());
        assertEquals(Status.MISSING, HostCapabilities.runtimeVerdict(caps).status());
    }

    @Test
    void partialCgroupsAndNonRootAreLimited() throws IOException {
        fullJailHost();
        Files.delete(root.resolve("sys/fs/cgroup/freezer/cgroup.procs"));
        touch("proc/self/status", "Uid:\t1000\t1000\t1000\t1000\n");
        HostCapabilities host = HostCapabilities.underRoot(root);
        Capability cg = host.cgroups();
        assertEquals(Status.LIMITED, cg.status());
        assertTrue(cg.detail().contains("without freezer"), cg.line());
        assertEquals(Status.LIMITED, host.namespaces().status());
    }

    @Test
    void cgroupV2ListsItsControllers() throws IOException {
        touch("sys/fs/cgroup/cgroup.controllers", "cpu memory pids\n");
        Capability cg = HostCapabilities.underRoot(root).cgroups();
        assertEquals(Status.OK, cg.status());
        assertTrue(cg.detail().startsWith("cgroup v2 (controllers: cpu memory pids)"), cg.line());
    }
}
