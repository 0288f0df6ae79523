package io.sandboxd.daemon.runtime.jail;

import io.sandboxd.daemon.envd.EnvdAotCache;
import io.sandboxd.daemon.envd.EnvdLaunch;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.sandboxd.daemon.network.NetworkSlot;
import io.sandboxd.daemon.template.TemplateBuild;
import io.sandboxd.daemon.template.TemplateMetadata;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The config.json a jail gets, field by field (runc itself checks it in JailRuntimeTest). */
class OciSpecTest {
    @TempDir
    Path dataDir;

    private JsonNode specFor(JailConfig config) {
        NetworkSlot slot = new NetworkSlot(3, "sbx-3", "sbxh3", 0x0a0b000d, 0x0a0b000e);
        TemplateBuild t = new TemplateBuild("base", "b1", dataDir.resolve("templates/base/b1"),
                new TemplateMetadata("base", "b1", "test", "2026-11-22T00:00:00Z", 1, Map.of()));
        Jail jail = new Jail("jabc", dataDir.resolve("sandboxes/jabc"), slot, t, new OciSpec.Limits(2, 512, 100));
        return OciSpec.build(config, jail, jail.limits());
    }

    private static List<String> texts(JsonNode array) {
        List<String> out = new ArrayList<>();
        array.forEach(n -> out.add(n.asText()));
        return out;
    }

    private static JsonNode mountAt(JsonNode spec, String dest) {
        for (JsonNode m : spec.path("mounts")) {
            if (m.path("destination").asText().equals(dest)) {
                return m;
            }
        }
        throw new AssertionError("no mount at " + dest);
    }

    @Test
    void namespacesJoinTheSlotsNetnsAndLimitsFollowTheSpec() throws Exception {
        Path jar = Files.writeString(dataDir.resolve("envd.jar"), "jar");
        JsonNode spec = specFor(JailConfig.defaults(dataDir, jar));
        JsonNode linux = spec.path("linux");
        List<String> types = new ArrayList<>();
        linux.path("namespaces").forEach(n -> types.add(n.path("type").asText()));
        assertEquals(List.of("pid", "ipc", "uts", "mount", "network"), types);
        assertEquals("/run/netns/sbx-3", linux.path("namespaces").get(4).path("path").asText());
        assertEquals("/sandboxd/jabc", linux.path("cgroupsPath").asText());
        assertEquals(512L * 1024 * 1024, linux.path("resources").path("memory").path("limit").asLong());
        assertEquals(200_000, linux.path("resources").path("cpu").path("quota").asLong());
        assertEquals(100_000, linux.path("resources").path("cpu").path("period").asLong());
        assertEquals(100, linux.path("resources").path("pids").path("limit").asLong());
        assertEquals(dataDir.resolve("sandboxes/jabc/rootfs").toString(), spec.path("root").path("path").asText());
        assertEquals(EnvdLaunch.COMMAND, texts(spec.path("process").path("args")));
    }

    @Test
    void hostJreAndEnvdJarAreMountedReadOnly() throws Exception {
        Path jar = Files.writeString(dataDir.resolve("envd.jar"), "jar");
        JsonNode spec = specFor(JailConfig.defaults(dataDir, jar));
        JsonNode jre = mountAt(spec, EnvdLaunch.JRE_PATH);
        assertEquals(System.getProperty("java.home"), jre.path("source").asText());
        assertTrue(texts(jre.path("options")).contains("ro"));
        JsonNode envd = mountAt(spec, EnvdLaunch.JAR_PATH);
        assertEquals(jar.toString(), envd.path("source").asText());
        assertTrue(texts(envd.path("options")).contains("ro"));
        assertTrue(texts(mountAt(spec, "/sys").path("options")).contains("ro"));
        assertEquals("devpts", mountAt(spec, "/dev/pts").path("type").asText());
        assertEquals("tmpfs", mountAt(spec, "/dev").path("type").asText());
        assertEquals("tmpfs", mountAt(spec, "/dev/shm").path("type").asText());
        assertEquals("proc", mountAt(spec, "/proc").path("type").asText());
    }

    @Test
    void envdGetsItsAotCacheReadOnlyAndTheJresDefaultArchiveUntilItExists() throws Exception {
        Path jar = Files.writeString(dataDir.resolve("envd.jar"), "jar");
        JailConfig config = JailConfig.defaults(dataDir, jar);
        assertTrue(texts(specFor(config).path("process").path("args")).contains("-XX:AOTCache=" + EnvdLaunch.AOT_CACHE_PATH));
        JsonNode fallback = mountAt(specFor(config), EnvdLaunch.AOT_CACHE_PATH);
        assertEquals(config.javaHome().resolve("lib/server/classes.jsa").toString(), fallback.path("source").asText(),
                "no cache recorded: the archive the JVM would have used without -XX:AOTCache");
        Path cache = Files.createDirectories(EnvdAotCache.directory(config.envdInstall())).resolve(EnvdAotCache.FILE_NAME);
        Files.writeString(cache, "recorded");
        JsonNode aot = mountAt(specFor(config), EnvdLaunch.AOT_CACHE_PATH);
        assertEquals(cache.toString(), aot.path("source").asText());
        assertTrue(texts(aot.path("options")).containsAll(List.of("ro", "nosuid", "nodev", "noexec")));
        assertThrows(AssertionError.class, () -> mountAt(specFor(JailConfig.forCommand(dataDir, List.of("/bin/sh"), 0)),
                EnvdLaunch.AOT_CACHE_PATH), "a jail without envd gets no cache");
    }

    @Test
    void rootInsideKeepsOnlyWhatEnvdNeedsAndSeccompIsOn() {
        JsonNode spec = specFor(JailConfig.forCommand(dataDir, List.of("/bin/sh"), 0));
        JsonNode caps = spec.path("process").path("capabilities");
        List<String> bounding = texts(caps.path("bounding"));
        assertTrue(bounding.containsAll(List.of("CAP_SETUID", "CAP_SETGID", "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_KILL")));
        for (String forbidden : List.of("CAP_SYS_ADMIN", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_SYS_PTRACE", "CAP_SYS_MODULE", "CAP_MKNOD")) {
            assertFalse(bounding.contains(forbidden), forbidden);
        }
        assertEquals(bounding, texts(caps.path("effective")));
        assertFalse(caps.has("ambient"));
        assertFalse(caps.has("inheritable"));
        assertEquals(0, spec.path("process").path("user").path("uid").asInt());
        assertFalse(spec.path("process").path("noNewPrivileges").asBoolean());
        JsonNode seccomp = spec.path("linux").path("seccomp");
        assertEquals("SCMP_ACT_ALLOW", seccomp.path("defaultAction").asText());
        List<String> denied = texts(seccomp.path("syscalls").get(0).path("names"));
        assertTrue(denied.containsAll(List.of("mount", "unshare", "setns", "bpf", "kexec_load", "init_module")));
        assertEquals(1 + 1 + SeccompProfile.CLONE_NAMESPACE_FLAGS.size(), seccomp.path("syscalls").size());
        assertTrue(texts(spec.path("linux").path("maskedPaths")).contains("/proc/kcore"));
        assertTrue(spec.path("process").path("noNewPrivileges").isBoolean());
        JsonNode on = specFor(JailConfig.forCommand(dataDir, List.of("/bin/sh"), 0).withNoNewPrivileges(true));
        assertTrue(on.path("process").path("noNewPrivileges").asBoolean());
    }

    @Test
    void configSaysWhatIsWrong() {
        IllegalArgumentException noJar = assertThrows(IllegalArgumentException.class,
                () -> JailConfig.defaults(dataDir, dataDir.resolve("missing.jar")));
        assertTrue(noJar.getMessage().contains("./mvnw -pl envd -am package"), noJar.getMessage());
        assertThrows(IllegalArgumentException.class, () -> JailConfig.forCommand(dataDir, List.of(), 0));
        assertThrows(IllegalArgumentException.class, () -> JailConfig.forCommand(dataDir, List.of("/bin/sh"), 0).withCgroupParent("../x"));
        assertThrows(IllegalArgumentException.class, () -> JailConfig.forCommand(dataDir, List.of("/bin/sh"), 0).withPoolSize(-1));
        assertTrue(io.sandboxd.daemon.host.OpenFilesLimit.forContainers() >= 1024);
    }

    @Test
    void aJailACreateWaitsForWarmsUpBrieflyAndOtherwiseRunsTheSameCommand() throws Exception {
        JailConfig config = JailConfig.defaults(dataDir, Files.writeString(dataDir.resolve("envd.jar"), "jar"));
        List<String> pooled = texts(specFor(config).path("process").path("args"));
        assertEquals(config.command(), pooled);
        int at = pooled.indexOf("--warm-up-rounds");
        assertEquals(String.valueOf(EnvdLaunch.WARM_UP_ROUNDS), pooled.get(at + 1));
        assertEquals(EnvdLaunch.WARM_UP_USER, pooled.get(pooled.indexOf("--warm-up-user") + 1));
        assertTrue(pooled.contains("--set-clock-from-init"), "the sandbox's agent corrects its clock from /init");

        List<String> waited = config.commandForWaitingCreate();
        assertEquals(String.valueOf(EnvdLaunch.WARM_UP_ROUNDS_WAITED_FOR), waited.get(at + 1));
        List<String> rest = new ArrayList<>(waited);
        rest.set(at + 1, pooled.get(at + 1));
        assertEquals(pooled, rest, "only the rounds differ");

        JailConfig shell = JailConfig.forCommand(dataDir, List.of("/bin/sh", "-c", "sleep 1000"), 0);
        assertEquals(shell.command(), shell.commandForWaitingCreate(), "a command without the option is left alone");
    }

    @Test
    void volumesAreBoundReadWriteAfterTheJailsOwnMounts() throws Exception {
        Path jar = Files.writeString(dataDir.resolve("envd.jar"), "jar");
        NetworkSlot slot = new NetworkSlot(3, "sbx-3", "sbxh3", 0x0a0b000d, 0x0a0b000e);
        TemplateBuild t = new TemplateBuild("base", "b1", dataDir.resolve("templates/base/b1"),
                new TemplateMetadata("base", "b1", "test", "2026-11-22T00:00:00Z", 1, Map.of()));
        Jail jail = new Jail("jabc", dataDir.resolve("sandboxes/jabc"), slot, t, new OciSpec.Limits(2, 512, 100));
        Path volume = dataDir.resolve("volumes/v1");
        JsonNode spec = OciSpec.build(JailConfig.defaults(dataDir, jar), EnvdLaunch.COMMAND, jail, jail.limits(),
                List.of(new io.sandboxd.daemon.runtime.SandboxSpec.BindMount(volume, "/mnt/data")));
        JsonNode m = mountAt(spec, "/mnt/data");
        assertEquals("bind", m.path("type").asText());
        assertEquals(volume.toString(), m.path("source").asText());
        assertEquals(List.of("bind", "nosuid", "nodev"), texts(m.path("options")), "read-write, one directory (no rbind)");
        JsonNode mounts = spec.path("mounts");
        assertEquals("/mnt/data", mounts.get(mounts.size() - 1).path("destination").asText(), "last: nothing covers it");
        assertThrows(AssertionError.class, () -> mountAt(specFor(JailConfig.defaults(dataDir, jar)), "/mnt/data"),
                "a jail without volumes has no such mount");
    }
}
