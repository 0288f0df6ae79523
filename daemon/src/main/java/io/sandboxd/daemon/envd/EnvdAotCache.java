package io.sandboxd.daemon.envd;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;
import java.util.stream.Stream;

/**
 * envd's AOT cache (JEP 483/514): envd's classes loaded and linked ahead of time, so every sandbox's envd starts with a
 * fraction of the CPU a cold JVM spends on class loading.
 *
 * <p>The daemon records it on the host, once per (envd.jar, JRE, JVM flags): a training run {@code java <flags>
 * -XX:AOTCacheOutput=... -jar envd.jar --train} of the JRE the sandboxes run envd on, which runs envd's warm-up (the create
 * and first-command path) and exits. The cache lands in {@code <data-dir>/envd-aot/<key>/envd.aot}, {@code key} a
 * hash of the jar's size and mtime, the JRE's path and release, and the flags, so a rebuilt jar or an updated JRE gets
 * a new cache and old ones are removed. Every sandbox gets the current key's cache file bind-mounted read-only at
 * {@link EnvdLaunch#AOT_CACHE_PATH}; while there is none (not recorded yet, the training failed, the jar was rebuilt
 * under a running daemon) it gets the JRE's default CDS archive there instead, which is what the JVM would have used
 * without {@code -XX:AOTCache}: a missing cache would leave the JVM with no class sharing at all.
 *
 * <p>Nothing here is needed for envd to work: the JVM checks the cache itself (JDK build, jar name, size and mtime,
 * flags) and runs without it when it is stale or unreadable; a failed training run only costs start time. The jar is
 * trained under the name {@code envd.jar}, the name it has in every sandbox (the JVM compares class path names, not
 * directories).
 */
public final class EnvdAotCache {
    private static final Logger LOG = Logger.getLogger(EnvdAotCache.class.getName());
    /** The cache's file name in its directory (and so inside the sandbox). */
    public static final String FILE_NAME = "envd.aot";
    static final Duration TRAINING_TIMEOUT = Duration.ofMinutes(2);

    private EnvdAotCache() {
    }

    /**
     * The directory holding the cache for {@code config}'s envd.jar, JRE and flags (it may not exist yet), or null
     * when envd's command does not use the cache.
     */
    public static Path directory(EnvdInstall install) {
        if (!install.usesAotCache()) {
            return null;
        }
        return install.aotDir().resolve(key(install));
    }

    /**
     * The host file a sandbox gets at {@link EnvdLaunch#AOT_CACHE_PATH}: this key's cache once recorded, else the JRE's
     * default CDS archive; null when envd's command uses no cache or the JRE has no default archive.
     */
    public static Path forSandbox(EnvdInstall install) {
        Path dir = directory(install);
        if (dir == null) {
            return null;
        }
        Path cache = dir.resolve(FILE_NAME);
        if (Files.isRegularFile(cache)) {
            return cache;
        }
        Path jdkDefault = install.javaHome().resolve("lib/server/classes.jsa");
        return Files.isRegularFile(jdkDefault) ? jdkDefault : null;
    }

    /**
     * Records the cache unless this key's already exists, and removes other keys' caches. Returns the cache file, or
     * null when envd's command does not use one or the training run failed (logged; envd then starts without it).
     */
    public static Path ensure(EnvdInstall install) {
        Path dir = directory(install);
        if (dir == null) {
            return null;
        }
        Path cache = dir.resolve(FILE_NAME);
        try {
            Files.createDirectories(dir);
            removeOthers(install.aotDir(), dir);
            if (Files.isRegularFile(cache) && Files.size(cache) > 0) {
                return cache;
            }
            long t0 = System.nanoTime();
            record(install, dir, cache);
            LOG.info("recorded envd's AOT cache " + cache + " (" + Files.size(cache) / (1024 * 1024) + " MiB) in "
                    + (System.nanoTime() - t0) / 1_000_000 + " ms");
            return cache;
        } catch (IOException | RuntimeException e) {
            LOG.warning("envd's AOT cache could not be recorded; sandboxes start envd without it: " + e.getMessage());
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        }
    }

    /** The training run's command: the sandbox's JRE and envd flags, output to {@code output}, the jar as envd.jar. */
    static List<String> trainingCommand(EnvdInstall install, Path jarAsEnvdJar, Path output) {
        List<String> cmd = new ArrayList<>();
        cmd.add(install.javaHome().resolve("bin/java").toString());
        cmd.addAll(jvmFlags(install));
        cmd.add("-XX:AOTCacheOutput=" + output);
        cmd.addAll(List.of("-jar", jarAsEnvdJar.toString(), "--train"));
        return cmd;
    }

    /** The JVM flags of envd's command, without the cache itself: what the cache is recorded with. */
    static List<String> jvmFlags(EnvdInstall install) {
        List<String> cmd = install.command();
        int jar = cmd.indexOf("-jar");
        if (jar < 1) {
            throw new IllegalArgumentException("envd's command " + cmd + " does not start a jar");
        }
        return cmd.subList(1, jar).stream().filter(f -> !f.startsWith("-XX:AOTCache=")).toList();
    }

    private static void record(EnvdInstall install, Path dir, Path cache) throws IOException, InterruptedException {
        // a private work directory: the jar's link named envd.jar, the JVM's temporary files, the partial cache
        Path work = Files.createTempDirectory(dir.getParent(), dir.getFileName() + ".training-");
        Path log = work.resolve("training.log");
        try {
            Path jar = work.resolve("envd.jar");
            Files.createSymbolicLink(jar, install.envdJar().toAbsolutePath());
            Path partial = work.resolve(FILE_NAME);
            Process p = new ProcessBuilder(trainingCommand(install, jar, partial)).directory(work.toFile())
                    .redirectErrorStream(true).redirectOutput(log.toFile()).start();
            if (!p.waitFor(TRAINING_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
                // the JVM assembles the cache in a child JVM: end both
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly().waitFor();
                throw new IOException("the training run took longer than " + TRAINING_TIMEOUT.toSeconds() + " s; its output:\n"
                        + tail(log));
            }
            if (p.exitValue() != 0 || !Files.isRegularFile(partial)) {
                throw new IOException("the training run " + trainingCommand(install, jar, partial) + " exited with "
                        + p.exitValue() + (Files.isRegularFile(partial) ? "" : " and wrote no cache") + "; its output:\n"
                        + tail(log));
            }
            // sandboxes starting right now see the whole file or none
            try {
                Files.move(partial, cache, StandardCopyOption.ATOMIC_MOVE);
            } catch (AtomicMoveNotSupportedException e) {
                throw new IOException("cannot rename " + partial + " to " + cache + " atomically", e);
            }
        } finally {
            deleteTree(work);
        }
    }

    /** Removes caches of other jars, JREs or flags, and training directories left by a daemon that died. */
    private static void removeOthers(Path parent, Path keep) throws IOException {
        try (DirectoryStream<Path> dirs = Files.newDirectoryStream(parent)) {
            for (Path d : dirs) {
                if (!d.equals(keep)) {
                    deleteTree(d);
                }
            }
        }
    }

    /**
     * The cache's key: what the JVM checks before using a cache (the jar's size and mtime, the JDK build) plus the
     * JRE's path and the flags, so that whatever changes, a new cache is recorded instead of a stale one kept.
     */
    static String key(EnvdInstall install) {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            BasicFileAttributes jar = Files.readAttributes(install.envdJar(), BasicFileAttributes.class);
            Path release = install.javaHome().resolve("release");
            StringBuilder in = new StringBuilder()
                    .append(jar.size()).append('\n')
                    .append(jar.lastModifiedTime().toMillis()).append('\n')
                    .append(install.javaHome().toRealPath()).append('\n')
                    .append(Files.isRegularFile(release) ? Files.readString(release) : "no release file").append('\n')
                    .append(Files.getLastModifiedTime(install.javaHome().resolve("lib/modules")).toMillis()).append('\n')
                    .append(String.join(" ", jvmFlags(install)));
            return HexFormat.of().formatHex(sha.digest(in.toString().getBytes(StandardCharsets.UTF_8)), 0, 8);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + install.envdJar() + " or " + install.javaHome(), e);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String tail(Path log) {
        try {
            List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
            return "  " + String.join("\n  ", lines.subList(Math.max(0, lines.size() - 20), lines.size()));
        } catch (IOException e) {
            return "  (no output: " + e.getMessage() + ")";
        }
    }

    private static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (Stream<Path> all = Files.walk(root)) {
            for (Path p : all.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
