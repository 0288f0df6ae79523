package io.sandboxd.daemon.runtime.jail;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.sandboxd.daemon.envd.EnvdAotCache;
import io.sandboxd.daemon.envd.EnvdInstall;
import io.sandboxd.daemon.envd.EnvdLaunch;
import io.sandboxd.daemon.host.OpenFilesLimit;
import io.sandboxd.daemon.runtime.SandboxSpec;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.List;

/**
 * Writes a jail's OCI runtime {@code config.json} (runtime-spec 1.0.2, what runc 1.1 reads). The jail's first
 * process (envd) runs as root inside so it can start user processes as any user: it keeps the capabilities to
 * change uid/gid, chown and override file permissions, and nothing that reaches past the jail (no SYS_ADMIN,
 * NET_ADMIN, NET_RAW, SYS_PTRACE, MKNOD, SYS_MODULE...). Processes it starts as {@code user} lose even those when
 * they change uid.
 */
final class OciSpec {
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    static final long CPU_PERIOD_US = 100_000;
    /**
     * CPU weight of a jail until a create claims it (the lowest cgroup v1 allows): envd's JVM booting in a refill is
     * the heaviest thing a host does, and at this weight it only takes CPU that claimed sandboxes leave idle, so a
     * refill never slows a sandbox's commands. {@link CgroupCpu#claim} gives a claimed jail its real weight.
     */
    static final long POOLED_CPU_SHARES = 2;
    static final List<String> CAPABILITIES = List.of("CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID",
            "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_SETFCAP", "CAP_NET_BIND_SERVICE",
            "CAP_SYS_CHROOT", "CAP_AUDIT_WRITE");
    static final List<String> MASKED_PATHS = List.of("/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
            "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
            "/sys/firmware", "/sys/devices/virtual/powercap");
    static final List<String> READONLY_PATHS = List.of("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
            "/proc/sysrq-trigger");
    /** Sandboxes die before the daemon when the host runs out of memory. */
    private static final int OOM_SCORE_ADJ = 500;

    private OciSpec() {
    }

    /** Resource limits of one jail. */
    record Limits(int cpuCount, int memoryMB, int pids) {
        long memoryBytes() {
            return memoryMB * 1024L * 1024L;
        }

        long cpuQuota() {
            return cpuCount * CPU_PERIOD_US;
        }

        long cpuShares() {
            return 1024L * cpuCount;
        }
    }

    static ObjectNode build(JailConfig config, Jail jail, Limits limits) {
        return build(config, config.command(), jail, limits);
    }

    /** As {@link #build(JailConfig, Jail, Limits)} with {@code command} as the jail's first process. */
    static ObjectNode build(JailConfig config, List<String> command, Jail jail, Limits limits) {
        return build(config, command, jail, limits, List.of());
    }

    /** As {@link #build(JailConfig, List, Jail, Limits)} with volumes bind-mounted read-write after the jail's own mounts. */
    static ObjectNode build(JailConfig config, List<String> command, Jail jail, Limits limits,
                            List<SandboxSpec.BindMount> volumes) {
        ObjectNode root = JSON.createObjectNode();
        root.put("ociVersion", "1.0.2");

        ObjectNode process = root.putObject("process");
        process.put("terminal", false);
        ObjectNode user = process.putObject("user");
        user.put("uid", 0);
        user.put("gid", 0);
        strings(process.putArray("args"), command);
        strings(process.putArray("env"), List.of("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "HOME=/root", "JAVA_HOME=" + EnvdLaunch.JRE_PATH, "LANG=C.UTF-8"));
        process.put("cwd", "/");
        ObjectNode caps = process.putObject("capabilities");
        for (String set : List.of("bounding", "effective", "permitted")) {
            strings(caps.putArray(set), CAPABILITIES);
        }
        ObjectNode nofile = process.putArray("rlimits").addObject();
        nofile.put("type", "RLIMIT_NOFILE");
        long nofileLimit = OpenFilesLimit.forContainers();
        nofile.put("hard", nofileLimit);
        nofile.put("soft", nofileLimit);
        process.put("noNewPrivileges", config.noNewPrivileges());
        process.put("oomScoreAdj", OOM_SCORE_ADJ);

        ObjectNode rootfs = root.putObject("root");
        rootfs.put("path", jail.rootfs().toString());
        rootfs.put("readonly", false);
        root.put("hostname", Jail.HOSTNAME);

        ArrayNode mounts = root.putArray("mounts");
        mount(mounts, "/proc", "proc", "proc", "nosuid", "noexec", "nodev");
        mount(mounts, "/dev", "tmpfs", "tmpfs", "nosuid", "strictatime", "mode=755", "size=65536k");
        mount(mounts, "/dev/pts", "devpts", "devpts", "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5");
        mount(mounts, "/dev/shm", "tmpfs", "shm", "nosuid", "noexec", "nodev", "mode=1777", "size=262144k");
        mount(mounts, "/dev/mqueue", "mqueue", "mqueue", "nosuid", "noexec", "nodev");
        mount(mounts, "/sys", "sysfs", "sysfs", "nosuid", "noexec", "nodev", "ro");
        mount(mounts, EnvdLaunch.JRE_PATH, "bind", config.javaHome().toString(), "rbind", "ro", "nosuid", "nodev");
        if (config.envdJar() != null) {
            mount(mounts, EnvdLaunch.JAR_PATH, "bind", config.envdJar().toAbsolutePath().toString(),
                    "bind", "ro", "nosuid", "nodev");
        }
        EnvdInstall envd = config.envdInstall();
        Path aot = envd == null ? null : EnvdAotCache.forSandbox(envd);
        if (aot != null) {
            mount(mounts, EnvdLaunch.AOT_CACHE_PATH, "bind", aot.toString(), "bind", "ro", "nosuid", "nodev", "noexec");
        }
        // Per-jail files rather than writes into the rootfs: runc resolves mount targets safely inside the rootfs,
        // where a host-side write could follow a symlink out of it.
        mount(mounts, "/etc/resolv.conf", "bind", jail.resolvConf().toString(), "bind", "nosuid", "nodev", "noexec");
        mount(mounts, "/etc/hosts", "bind", jail.hosts().toString(), "bind", "nosuid", "nodev", "noexec");
        // runc creates a missing destination inside the rootfs without following links out of it. No rbind: a
        // volume is one directory, and nothing mounted under it on the host is the sandbox's business.
        for (SandboxSpec.BindMount v : volumes) {
            mount(mounts, v.destination(), "bind", v.source().toString(), "bind", "nosuid", "nodev");
        }

        ObjectNode linux = root.putObject("linux");
        ArrayNode ns = linux.putArray("namespaces");
        for (String t : List.of("pid", "ipc", "uts", "mount")) {
            ns.addObject().put("type", t);
        }
        ObjectNode net = ns.addObject();
        net.put("type", "network");
        net.put("path", jail.slot().netnsPath().toString());
        linux.put("cgroupsPath", "/" + config.cgroupParent() + "/" + jail.id());
        ObjectNode res = linux.putObject("resources");
        ObjectNode denyDevices = res.putArray("devices").addObject();
        denyDevices.put("allow", false);
        denyDevices.put("access", "rwm");
        res.putObject("memory").put("limit", limits.memoryBytes());
        ObjectNode cpu = res.putObject("cpu");
        cpu.put("quota", limits.cpuQuota());
        cpu.put("period", CPU_PERIOD_US);
        cpu.put("shares", POOLED_CPU_SHARES);
        res.putObject("pids").put("limit", limits.pids());
        if (config.seccomp()) {
            linux.set("seccomp", SeccompProfile.json());
        }
        strings(linux.putArray("maskedPaths"), MASKED_PATHS);
        strings(linux.putArray("readonlyPaths"), READONLY_PATHS);
        return root;
    }

    static void write(ObjectNode spec, Path configJson) {
        try {
            JSON.writeValue(configJson.toFile(), spec);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + configJson, e);
        }
    }

    private static void mount(ArrayNode mounts, String dest, String type, String source, String... options) {
        ObjectNode m = mounts.addObject();
        m.put("destination", dest);
        m.put("type", type);
        m.put("source", source);
        strings(m.putArray("options"), List.of(options));
    }

    private static void strings(ArrayNode a, List<String> values) {
        values.forEach(a::add);
    }
}
