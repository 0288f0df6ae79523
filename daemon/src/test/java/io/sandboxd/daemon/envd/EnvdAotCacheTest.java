package io.sandboxd.daemon.envd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * envd's AOT cache on the host: recorded by a real training run of the real envd.jar, then used by a JVM that refuses
 * to start without it ({@code -XX:AOTMode=on}) from a jail-like path; a stale, missing or broken cache only falls
 * back to a working envd.
 */
public class EnvdAotCacheTest {
    @TempDir
    static Path shared;
    /** Recorded once for the class: a training run costs seconds of CPU. */
    static Path envdJar;
    static EnvdInstall config;
    static Path cache;

    @BeforeAll
    static void recordOnce() {
        envdJar = envdJar();
        Assumptions.assumeTrue(envdJar != null, "needs envd/target/envd.jar: ./mvnw -pl envd -am package");
        config = install(shared.resolve("data"), envdJar);
        cache = EnvdAotCache.ensure(config);
    }

    /** The envd.jar the build made ({@code -Dsandboxd.envd.jar} or {@code ../envd/target/envd.jar}), or null. */
    public static Path envdJar() {
        String prop = System.getProperty("sandboxd.envd.jar");
        Path p = prop != null ? Path.of(prop) : Path.of("..", "envd", "target", "envd.jar");
        return Files.isRegularFile(p) ? p.toAbsolutePath() : null;
    }

    /** envd as a sandbox runs it, from this JRE, with its AOT caches under {@code dataDir/envd-aot}. */
    private static EnvdInstall install(Path dataDir, Path jar) {
        return new EnvdInstall(Path.of(System.getProperty("java.home")), jar, EnvdLaunch.COMMAND, dataDir.resolve("envd-aot"));
    }

    private static EnvdInstall withFlags(EnvdInstall i, List<String> jvmFlags) {
        return new EnvdInstall(i.javaHome(), i.envdJar(), EnvdLaunch.command(jvmFlags), i.aotDir());
    }

    /** envd.jar seen under another directory, as in a sandbox ({@link EnvdLaunch#JAR_PATH}): same name and mtime. */
    private static Path jarElsewhere(Path dir) throws IOException {
        Files.createDirectories(dir);
        return Files.copy(envdJar, dir.resolve("envd.jar"), StandardCopyOption.COPY_ATTRIBUTES,
                StandardCopyOption.REPLACE_EXISTING);
    }

    private static List<String> envdWith(Path jar, List<String> extraJvmFlags, String... envdArgs) {
        List<String> cmd = new ArrayList<>();
        cmd.add(config.javaHome().resolve("bin/java").toString());
        cmd.addAll(EnvdAotCache.jvmFlags(config));
        cmd.addAll(extraJvmFlags);
        cmd.addAll(List.of("-jar", jar.toString()));
        cmd.addAll(List.of(envdArgs));
        return cmd;
    }

    private static Result run(List<String> cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        byte[] out = p.getInputStream().readAllBytes();
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "finished: " + cmd);
        return new Result(p.exitValue(), new String(out));
    }

    record Result(int exit, String output) {
    }

    @Test
    void theCacheIsRecordedAndAJvmThatMustUseItStartsEnvdFromAJailLikePath() throws Exception {
        assertNotNull(cache, "the training run recorded a cache");
        assertEquals(EnvdAotCache.directory(config).resolve(EnvdAotCache.FILE_NAME), cache);
        assertEquals(cache, EnvdAotCache.forSandbox(config), "what jails mount");
        assertTrue(Files.size(cache) > 1 << 20, "a real cache: " + Files.size(cache) + " bytes");
        try (var left = Files.list(config.aotDir())) {
            assertEquals(List.of(cache.getParent()), left.toList(), "no training directories left behind");
        }
        // AOTMode=on: the JVM exits with an error instead of running without the cache
        Path jar = jarElsewhere(shared.resolve("jail/opt/sandboxd"));
        Result r = run(envdWith(jar, List.of("-XX:AOTMode=on", "-XX:AOTCache=" + cache, "-Xlog:aot=info"), "--train"));
        assertEquals(0, r.exit(), r.output());
        assertTrue(r.output().contains("Opened AOT cache " + cache), r.output());
    }

    @Test
    void aSecondEnsureReusesTheCache() throws Exception {
        Assumptions.assumeTrue(cache != null);
        FileTime before = Files.getLastModifiedTime(cache);
        assertEquals(cache, EnvdAotCache.ensure(config));
        assertEquals(before, Files.getLastModifiedTime(cache));
    }

    @Test
    void aStaleMissingOrBrokenCacheOnlyFallsBackToAWorkingEnvd() throws Exception {
        Assumptions.assumeTrue(cache != null);
        Path rebuilt = jarElsewhere(shared.resolve("rebuilt"));
        Files.setLastModifiedTime(rebuilt, FileTime.fromMillis(Files.getLastModifiedTime(envdJar).toMillis() - 60_000));
        Path broken = Files.writeString(shared.resolve("broken.aot"), "not a cache");
        for (Path c : List.of(cache, shared.resolve("missing.aot"), broken)) {
            Path jar = c == cache ? rebuilt : jarElsewhere(shared.resolve("jail2"));
            // the same refusal a jail's JVM would hit, proven with AOTMode=on ...
            Result strict = run(envdWith(jar, List.of("-XX:AOTMode=on", "-XX:AOTCache=" + c), "--version"));
            assertNotEquals(0, strict.exit(), c + " is unusable for " + jar + ": " + strict.output());
            // ... while the jail's own flags (AOTMode auto) run the whole warm-up: start, a process, a file RPC
            Result r = run(envdWith(jar, List.of("-XX:AOTCache=" + c), "--train"));
            assertEquals(0, r.exit(), c + ": " + r.output());
            assertTrue(r.output().contains("process ended: true"), r.output());
        }
    }

    @Test
    void whileThereIsNoCacheJailsGetTheJresDefaultArchiveWhichTheJvmUses() throws Exception {
        Path data = shared.resolve("no-cache-yet");
        EnvdInstall c = install(data, envdJar);
        Path fallback = EnvdAotCache.forSandbox(c);
        assertEquals(c.javaHome().resolve("lib/server/classes.jsa"), fallback);
        Result r = run(envdWith(jarElsewhere(shared.resolve("jail3")), List.of("-XX:AOTMode=on", "-XX:AOTCache=" + fallback),
                "--version"));
        assertEquals(0, r.exit(), "the JVM maps the JRE's archive under envd's flags: " + r.output());
    }

    @Test
    void aNewJarOrOtherFlagsGetANewKeyAndOldCachesAreRemoved() throws Exception {
        Path data = shared.resolve("keys");
        Path jar = jarElsewhere(shared.resolve("keys-jar"));
        EnvdInstall c = install(data, jar);
        String k = EnvdAotCache.key(c);
        assertEquals(k, EnvdAotCache.key(install(data, jar)), "stable");
        Files.setLastModifiedTime(jar, FileTime.fromMillis(Files.getLastModifiedTime(jar).toMillis() + 1000));
        String rebuilt = EnvdAotCache.key(c);
        assertNotEquals(k, rebuilt, "a rebuilt jar");
        EnvdInstall otherFlags = withFlags(c, List.of("-XX:+UseSerialGC"));
        assertNotEquals(rebuilt, EnvdAotCache.key(otherFlags), "other JVM flags");

        // the current key's cache exists (a stand-in: ensure does not train again), an old key's is removed
        Path old = Files.createDirectories(c.aotDir().resolve(k));
        Files.writeString(old.resolve(EnvdAotCache.FILE_NAME), "old");
        Path current = Files.createDirectories(EnvdAotCache.directory(c));
        Files.writeString(current.resolve(EnvdAotCache.FILE_NAME), "current");
        assertEquals(current.resolve(EnvdAotCache.FILE_NAME), EnvdAotCache.ensure(c));
        assertFalse(Files.exists(old));
    }

    @Test
    void aFailedTrainingRunLeavesNoCacheAndNoDebris() throws Exception {
        Path data = shared.resolve("failing");
        EnvdInstall c = withFlags(install(data, envdJar), List.of("-XX:+NoSuchJvmFlagAnywhere"));
        assertNull(EnvdAotCache.ensure(c));
        try (var left = Files.list(c.aotDir())) {
            assertEquals(List.of(EnvdAotCache.directory(c)), left.toList());
        }
        try (var inKey = Files.list(EnvdAotCache.directory(c))) {
            assertEquals(0, inKey.count(), "an empty directory: jails start envd without a cache");
        }
    }

    @Test
    void withoutEnvdThereIsNoCache() {
        EnvdInstall shell = new EnvdInstall(Path.of(System.getProperty("java.home")), shared.resolve("none.jar"),
                List.of("/bin/sleep", "infinity"), shared.resolve("shell"));
        assertFalse(shell.usesAotCache());
        assertNull(EnvdAotCache.directory(shell));
        assertNull(EnvdAotCache.ensure(shell));
    }

    @Test
    void envdsCommandUsesTheCacheWithTheTrainingRunsFlags() {
        List<String> cmd = EnvdLaunch.COMMAND;
        assertTrue(cmd.contains("-XX:AOTCache=" + EnvdLaunch.AOT_CACHE_PATH), cmd.toString());
        assertEquals(EnvdLaunch.JVM_FLAGS, cmd.subList(1, 1 + EnvdLaunch.JVM_FLAGS.size()));
    }
}
