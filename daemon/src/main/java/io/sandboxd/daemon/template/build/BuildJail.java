package io.sandboxd.daemon.template.build;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.sandboxd.daemon.host.DirectoryTrees;
import io.sandboxd.daemon.host.HostCommand;
import io.sandboxd.daemon.host.OpenFilesLimit;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * Runs one build step's command in a runc container whose root is an overlayfs: the template's layers so far below,
 * the step's new layer as the upper directory. The container has its own pid, mount, ipc and uts namespaces and the
 * jail runtime's capability set; it shares the host's network namespace, as a Docker build does, so that
 * {@code apt-get}, {@code pip} and {@code git clone} steps can fetch.
 */
final class BuildJail {
    private static final ObjectMapper JSON = new ObjectMapper();
    static final List<String> CAPABILITIES = List.of("CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID",
            "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
            "CAP_MKNOD", "CAP_AUDIT_WRITE", "CAP_SETFCAP");
    /** Where a COPY step's uploaded files appear inside the build jail (read-only). */
    static final String COPY_SOURCE = "/.sandboxd-copy";

    private final Path runcRoot;
    private final String namePrefix;

    /** @param namePrefix prefix of the build containers' runc names, so reconcile and tests can tell them apart */
    BuildJail(Path runcRoot, String namePrefix) {
        this.runcRoot = runcRoot;
        this.namePrefix = namePrefix;
    }

    record Run(int exitCode, boolean timedOut) {}

    /**
     * Mounts {@code lowerDirs} + the layer's {@code fs/} at its {@code merged/}, runs {@code command} there and unmounts.
     *
     * @param copySource a host directory to show read-only at {@link #COPY_SOURCE}, or null
     */
    Run run(String lowerDirs, Path layerTmp, List<String> command, Map<String, String> env, String cwd, String user,
            Path copySource, Duration timeout, Consumer<String> output) {
        Path merged = layerTmp.resolve("merged");
        Path bundle = layerTmp.resolve("bundle");
        String id = namePrefix + HexFormat.of().formatHex(longBytes(ThreadLocalRandom.current().nextLong()));
        try {
            Files.createDirectories(bundle);
            Files.createDirectories(runcRoot);
            HostCommand.check(List.of("mount", "-t", "overlay", "overlay", "-o", "lowerdir=" + lowerDirs + ",upperdir="
                    + layerTmp.resolve("fs") + ",workdir=" + layerTmp.resolve("work"), merged.toString()));
            try {
                Files.writeString(bundle.resolve("config.json"),
                        JSON.writeValueAsString(spec(merged, command, env, cwd, user, copySource)));
                return runc(id, bundle, timeout, output);
            } finally {
                HostCommand.run(List.of("runc", "--root", runcRoot.toString(), "delete", "--force", id));
                HostCommand.check(List.of("umount", merged.toString()));
                if (copySource != null) {
                    // runc made the mount point in the upper layer; it is not part of the template
                    Files.deleteIfExists(layerTmp.resolve("fs").resolve(COPY_SOURCE.substring(1)));
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("build jail in " + layerTmp, e);
        } finally {
            DirectoryTrees.deleteRecursively(bundle);
        }
    }

    private Run runc(String id, Path bundle, Duration timeout, Consumer<String> output) throws IOException {
        Process p = new ProcessBuilder("runc", "--root", runcRoot.toString(), "run", "--bundle", bundle.toString(), id)
                .redirectErrorStream(true).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                .start();
        Thread reader = Thread.ofVirtual().start(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    output.accept(line);
                }
            } catch (IOException ignored) {
                // the process is gone; its exit code says the rest
            }
        });
        try {
            if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                HostCommand.run(List.of("runc", "--root", runcRoot.toString(), "kill", id, "KILL"));
                p.destroyForcibly();
                p.waitFor(10, TimeUnit.SECONDS);
                return new Run(-1, true);
            }
            reader.join(Duration.ofSeconds(5));
            return new Run(p.exitValue(), false);
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while a build step ran", e);
        }
    }

    static ObjectNode spec(Path rootfs, List<String> command, Map<String, String> env, String cwd, String user,
                           Path copySource) {
        ObjectNode s = JSON.createObjectNode();
        s.put("ociVersion", "1.0.2");
        ObjectNode process = s.putObject("process");
        process.put("terminal", false);
        process.put("cwd", cwd);
        // The user is switched inside (runuser) so names resolve against the template's /etc/passwd.
        process.putObject("user").put("uid", 0).put("gid", 0);
        ArrayNode args = process.putArray("args");
        if (user == null || user.equals("root")) {
            command.forEach(args::add);
        } else {
            args.add("runuser").add("-u").add(user).add("--");
            command.forEach(args::add);
        }
        ArrayNode envs = process.putArray("env");
        env.forEach((k, v) -> envs.add(k + "=" + v));
        ObjectNode caps = process.putObject("capabilities");
        for (String set : List.of("bounding", "effective", "permitted")) {
            ArrayNode a = caps.putArray(set);
            CAPABILITIES.forEach(a::add);
        }
        long nofile = OpenFilesLimit.forContainers();
        process.putArray("rlimits").addObject().put("type", "RLIMIT_NOFILE").put("hard", nofile).put("soft", nofile);
        s.putObject("root").put("path", rootfs.toString()).put("readonly", false);
        s.put("hostname", "build");
        ArrayNode mounts = s.putArray("mounts");
        mount(mounts, "/proc", "proc", "proc", "nosuid", "noexec", "nodev");
        mount(mounts, "/dev", "tmpfs", "tmpfs", "nosuid", "strictatime", "mode=755", "size=65536k");
        mount(mounts, "/dev/pts", "devpts", "devpts", "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620");
        mount(mounts, "/dev/shm", "tmpfs", "shm", "nosuid", "noexec", "nodev", "mode=1777", "size=65536k");
        mount(mounts, "/sys", "sysfs", "sysfs", "nosuid", "noexec", "nodev", "ro");
        if (Files.isRegularFile(Path.of("/etc/resolv.conf"))) {
            mount(mounts, "/etc/resolv.conf", "bind", "/etc/resolv.conf", "rbind", "ro");
        }
        if (copySource != null) {
            mount(mounts, COPY_SOURCE, "bind", copySource.toString(), "rbind", "ro");
        }
        ObjectNode linux = s.putObject("linux");
        ArrayNode ns = linux.putArray("namespaces");
        for (String n : List.of("pid", "ipc", "uts", "mount")) {
            ns.addObject().put("type", n);
        }
        ArrayNode masked = linux.putArray("maskedPaths");
        List.of("/proc/kcore", "/proc/keys", "/proc/timer_list", "/sys/firmware").forEach(masked::add);
        ArrayNode ro = linux.putArray("readonlyPaths");
        List.of("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger").forEach(ro::add);
        return s;
    }

    private static void mount(ArrayNode mounts, String dest, String type, String source, String... options) {
        ObjectNode m = mounts.addObject().put("destination", dest).put("type", type).put("source", source);
        ArrayNode o = m.putArray("options");
        for (String opt : options) {
            o.add(opt);
        }
    }

    private static byte[] longBytes(long v) {
        return java.nio.ByteBuffer.allocate(8).putLong(v).array();
    }
}
