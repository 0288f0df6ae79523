package io.sandboxd.daemon.host;

import io.sandboxd.ffi.Kvm;
import io.sandboxd.ffi.Libc;
import io.sandboxd.ffi.NativeException;
import io.sandboxd.ffi.Userfaultfd;
import io.sandboxd.vmm.kvm.KvmBackend;
import io.sandboxd.daemon.host.Capability.Status;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * Finds out what this host can run: KVM (hardware-backed or PVM), userfaultfd, tun, NBD, cgroups, overlayfs and
 * namespaces. File checks read under a configurable root so the classification can be tested with a fake
 * {@code /sys} and {@code /proc}; the device checks open the real devices.
 */
public final class HostCapabilities {
    private final Path root;
    private final boolean probeDevices;

    private HostCapabilities(Path root, boolean probeDevices) {
        this.root = root;
        this.probeDevices = probeDevices;
    }

    /** This machine. */
    public static HostCapabilities system() {
        return new HostCapabilities(Path.of("/"), true);
    }

    /** A fake file tree for tests: only the file-based checks run; device opens are reported from the tree. */
    static HostCapabilities underRoot(Path root) {
        return new HostCapabilities(root, false);
    }

    public List<Capability> probe() {
        List<Capability> out = new ArrayList<>();
        out.add(kvm());
        out.add(userfaultfd());
        out.add(tun());
        out.add(nbd());
        out.add(cgroups());
        out.add(overlayfs());
        out.add(namespaces());
        return out;
    }

    /** Which runtime {@code --runtime auto} would pick on this host, and why. */
    public static Capability runtimeVerdict(List<Capability> caps) {
        Capability kvm = caps.stream().filter(c -> c.name().equals("kvm")).findFirst().orElseThrow();
        boolean jailOk = caps.stream().filter(c -> Set.of("cgroups", "overlayfs", "namespaces").contains(c.name()))
                .allMatch(Capability::usable);
        if (kvm.status() == Status.OK) {
            return new Capability("runtime", Status.OK, "vm (hardware KVM: sandboxes are microVMs restored from snapshots)");
        }
        if (jailOk) {
            return new Capability("runtime", Status.LIMITED,
                    "jail (no hardware KVM, so sandboxes are namespaced containers run by runc instead of microVMs)");
        }
        return new Capability("runtime", Status.MISSING,
                "none: neither hardware KVM nor namespaces + cgroups + overlayfs are available; sandboxd cannot run sandboxes here");
    }

    Capability kvm() {
        Path dev = root.resolve("dev/kvm");
        if (!Files.exists(dev)) {
            return new Capability("kvm", Status.MISSING,
                    "no /dev/kvm: load kvm_intel or kvm_amd (and enable virtualization in the firmware); the vm runtime is unavailable, the jail runtime still works");
        }
        KvmBackend backend = KvmBackend.detect(root.resolve("sys/module"));
        if (probeDevices) {
            try {
                int fd = Libc.open(dev.toString(), Libc.O_RDWR | Libc.O_CLOEXEC);
                try {
                    int version = Libc.ioctl(fd, Kvm.KVM_GET_API_VERSION, 0L, "KVM_GET_API_VERSION");
                    if (version != Kvm.KVM_API_VERSION) {
                        return new Capability("kvm", Status.MISSING, "/dev/kvm reports API version " + version
                                + ", expected " + Kvm.KVM_API_VERSION);
                    }
                } finally {
                    Libc.close(fd);
                }
            } catch (NativeException e) {
                return new Capability("kvm", Status.MISSING, "/dev/kvm cannot be used: " + e.getMessage()
                        + " (check that /dev/kvm is readable and writable by this user)");
            }
        }
        if (backend == KvmBackend.PVM) {
            return new Capability("kvm", Status.LIMITED,
                    "PVM (software KVM for nested hosts, module kvm_pvm): tiny guest programs run, a stock Linux guest "
                            + "does not boot; VMM tests run here, sandboxes use the jail runtime");
        }
        if (backend.hardware()) {
            return new Capability("kvm", Status.OK, "hardware-backed (" + backend.description()
                    + "): microVM sandboxes available");
        }
        return new Capability("kvm", Status.LIMITED,
                "/dev/kvm works but its backend is unknown (no kvm_intel, kvm_amd or kvm_pvm module): treat as untested");
    }

    Capability userfaultfd() {
        if (probeDevices) {
            long fd = Libc.syscallRaw(Userfaultfd.SYS_userfaultfd, Libc.O_CLOEXEC | Libc.O_NONBLOCK, 0, 0);
            if (fd >= 0) {
                Libc.close((int) fd);
                return new Capability("userfaultfd", Status.OK, "userfaultfd(2) works: lazy page loading (uffd backend) available");
            }
        }
        Path dev = root.resolve("dev/userfaultfd");
        if (Files.exists(dev)) {
            if (probeDevices) {
                try {
                    Libc.close(Libc.open(dev.toString(), Libc.O_RDWR | Libc.O_CLOEXEC));
                } catch (NativeException e) {
                    return new Capability("userfaultfd", Status.MISSING, "/dev/userfaultfd cannot be opened: " + e.getMessage());
                }
            }
            return new Capability("userfaultfd", Status.OK, "/dev/userfaultfd available: lazy page loading (uffd backend) available");
        }
        return new Capability("userfaultfd", Status.MISSING,
                "neither userfaultfd(2) nor /dev/userfaultfd: restores fall back to the private-map and eager memory backends");
    }

    Capability tun() {
        Path dev = root.resolve("dev/net/tun");
        if (!Files.exists(dev)) {
            return new Capability("tun", Status.MISSING, "no /dev/net/tun (modprobe tun): microVMs get no network");
        }
        if (probeDevices) {
            try {
                Libc.close(Libc.open(dev.toString(), Libc.O_RDWR | Libc.O_CLOEXEC));
            } catch (NativeException e) {
                return new Capability("tun", Status.MISSING, "/dev/net/tun cannot be opened: " + e.getMessage());
            }
        }
        return new Capability("tun", Status.OK, "/dev/net/tun available: tap devices for microVM networking");
    }

    Capability nbd() {
        if (Files.exists(root.resolve("sys/module/nbd")) || Files.exists(root.resolve("dev/nbd0"))) {
            return new Capability("nbd", Status.OK, "kernel NBD module loaded: template and sandbox images can be attached as /dev/nbdN");
        }
        return new Capability("nbd", Status.MISSING,
                "no kernel NBD module (modprobe nbd): images cannot be attached as /dev/nbdN; the NBD server still serves "
                        + "user-space clients, and sandboxes do not need it");
    }

    Capability cgroups() {
        Path cg = root.resolve("sys/fs/cgroup");
        if (Files.exists(cg.resolve("cgroup.controllers"))) {
            String controllers = read(cg.resolve("cgroup.controllers")).trim();
            return new Capability("cgroups", Status.OK, "cgroup v2 (controllers: " + controllers + "): cpu, memory and pids limits per sandbox");
        }
        Set<String> v1 = new TreeSet<>();
        for (String c : List.of("cpu", "memory", "pids", "freezer", "cpuset", "blkio")) {
            if (Files.exists(cg.resolve(c).resolve("cgroup.procs"))) {
                v1.add(c);
            }
        }
        Set<String> needed = Set.of("cpu", "memory", "pids", "freezer");
        if (v1.containsAll(needed)) {
            return new Capability("cgroups", Status.OK, "cgroup v1 (" + String.join(", ", v1)
                    + "): cpu, memory and pids limits and freezer-based pause per sandbox");
        }
        if (!v1.isEmpty()) {
            Set<String> missing = new TreeSet<>(needed);
            missing.removeAll(v1);
            return new Capability("cgroups", Status.LIMITED, "cgroup v1 without " + String.join(", ", missing)
                    + ": sandboxes run without those limits");
        }
        return new Capability("cgroups", Status.MISSING, "no cgroup hierarchy mounted at /sys/fs/cgroup: no resource limits, no pause");
    }

    Capability overlayfs() {
        String filesystems = read(root.resolve("proc/filesystems"));
        if (filesystems.lines().anyMatch(l -> l.trim().endsWith("overlay"))) {
            return new Capability("overlayfs", Status.OK, "overlayfs available: jail sandboxes share the template rootfs copy-on-write");
        }
        return new Capability("overlayfs", Status.MISSING, "overlayfs not available (modprobe overlay): the jail runtime cannot start");
    }

    Capability namespaces() {
        List<String> missing = new ArrayList<>();
        for (String ns : List.of("pid", "mnt", "net", "uts", "ipc")) {
            if (!Files.exists(root.resolve("proc/self/ns/" + ns))) {
                missing.add(ns);
            }
        }
        if (!missing.isEmpty()) {
            return new Capability("namespaces", Status.MISSING, "kernel lacks " + String.join(", ", missing)
                    + " namespaces: sandboxes cannot be isolated");
        }
        if (!effectiveUidIsRoot()) {
            return new Capability("namespaces", Status.LIMITED,
                    "pid, mnt, net, uts, ipc namespaces exist, but the daemon is not root: run sandboxd as root (systemd unit) to create them");
        }
        return new Capability("namespaces", Status.OK, "pid, mnt, net, uts, ipc namespaces: one isolated set per sandbox");
    }

    private boolean effectiveUidIsRoot() {
        // "Uid:\treal\teffective\tsaved\tfs" in /proc/self/status
        return read(root.resolve("proc/self/status")).lines()
                .filter(l -> l.startsWith("Uid:"))
                .map(l -> l.split("\\s+"))
                .anyMatch(f -> f.length > 2 && f[2].equals("0"));
    }

    private static String read(Path p) {
        try {
            return Files.readString(p);
        } catch (IOException e) {
            return "";
        }
    }
}
