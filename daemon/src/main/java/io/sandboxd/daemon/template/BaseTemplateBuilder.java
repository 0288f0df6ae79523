package io.sandboxd.daemon.template;

import io.sandboxd.daemon.host.DirectoryTrees;
import io.sandboxd.daemon.host.HostCommand;
import io.sandboxd.daemon.host.MountTable;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.function.Consumer;
import java.util.stream.Stream;

/**
 * Builds the {@code base} template: a Debian bookworm minbase made by {@code debootstrap} with the tools E2B's
 * base image has (bash, coreutils, python3, nodejs, git, curl, sudo), and user {@code user} (uid 1000, home
 * {@code /home/user}, passwordless sudo).
 *
 * <p>Built once per recipe: the build ID is a hash of everything that shapes the result (suite, variant,
 * packages, the user set-up), so a second call finds the build and returns at once, and a changed recipe
 * builds anew next to the old one. The build runs in {@code templates/base/.build-*} and is renamed into place
 * only after {@code metadata.json} is written; a failure or a crash leaves no directory that looks finished, and
 * the next build removes the debris. A file lock keeps two daemons from building at once.
 */
public final class BaseTemplateBuilder {
    public static final String TEMPLATE_ID = "base";
    public static final String SUITE = "bookworm";
    public static final String VARIANT = "minbase";
    public static final List<String> PACKAGES = List.of("bash", "coreutils", "python3", "nodejs", "git", "curl", "sudo",
            "ca-certificates", "procps", "util-linux");
    public static final String USER = "user";
    public static final int USER_UID = 1000;
    /** Bump when the steps after debootstrap change, so existing hosts build the new recipe. */
    private static final int RECIPE_VERSION = 1;
    private static final Duration DEBOOTSTRAP_TIMEOUT = Duration.ofMinutes(30);
    private static final int ERROR_TAIL_LINES = 15;

    private final TemplateStore store;
    private final String mirror;

    /**
     * @param mirror the Debian archive to fetch from, e.g. {@code http://deb.debian.org/debian}; see
     *               {@link AptMirror#fromHost()}
     */
    public BaseTemplateBuilder(TemplateStore store, String mirror) {
        this.store = store;
        this.mirror = mirror;
    }

    /** A builder that fetches from the mirror this host's apt uses. */
    public static BaseTemplateBuilder withHostMirror(TemplateStore store) {
        String m = AptMirror.fromHost().orElseThrow(() -> new TemplateBuildException(
                "no Debian mirror found in /etc/apt/sources.list or /etc/apt/sources.list.d: configure apt with a "
                        + "Debian archive (e.g. http://deb.debian.org/debian) so the base template can be built"));
        return new BaseTemplateBuilder(store, m);
    }

    /** The build ID this recipe produces. */
    public static String buildId() {
        String recipe = String.join("\n", "suite=" + SUITE, "variant=" + VARIANT, "packages=" + String.join(",", PACKAGES),
                "user=" + USER + ":" + USER_UID, "recipe=" + RECIPE_VERSION);
        try {
            byte[] h = MessageDigest.getInstance("SHA-256").digest(recipe.getBytes(StandardCharsets.UTF_8));
            return "bookworm-" + HexFormat.of().formatHex(h, 0, 6);
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError("SHA-256 is required of every JDK", e);
        }
    }

    /** The build if it exists, else builds it, sending each line of debootstrap's output to {@code progress}. */
    public TemplateBuild ensureBuilt(Consumer<String> progress) {
        Optional<TemplateBuild> existing = store.find(TEMPLATE_ID, buildId());
        if (existing.isPresent()) {
            return existing.get();
        }
        Path templateDir = store.templateDir(TEMPLATE_ID);
        try {
            Files.createDirectories(templateDir);
            try (FileChannel ch = FileChannel.open(templateDir.resolve(".lock"), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
                 FileLock ignored = ch.lock()) {
                // Another daemon may have finished it while we waited for the lock.
                existing = store.find(TEMPLATE_ID, buildId());
                if (existing.isPresent()) {
                    return existing.get();
                }
                removeDebris(templateDir);
                return build(templateDir, progress);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot build the base template under " + templateDir, e);
        }
    }

    private TemplateBuild build(Path templateDir, Consumer<String> progress) throws IOException {
        requireTool("debootstrap");
        String buildId = buildId();
        Path work = templateDir.resolve(".build-" + buildId + "-" + UUID.randomUUID().toString().substring(0, 8));
        Path rootfs = work.resolve("rootfs");
        Instant start = Instant.now();
        try {
            Files.createDirectories(work);
            progress.accept("building template base (" + buildId + "): debootstrap " + SUITE + " from " + mirror);
            runDebootstrap(rootfs, progress);
            progress.accept("adding user " + USER + " (uid " + USER_UID + ", passwordless sudo)");
            configure(rootfs);
            Duration took = Duration.between(start, Instant.now());
            Map<String, Object> details = new LinkedHashMap<>();
            details.put("suite", SUITE);
            details.put("variant", VARIANT);
            details.put("mirror", mirror);
            details.put("packages", PACKAGES);
            details.put("user", USER + ":" + USER_UID);
            details.put("debootstrapVersion", HostCommand.run(List.of("debootstrap", "--version")).stdout().strip());
            details.put("buildSeconds", took.toMillis() / 1000.0);
            TemplateMetadata md = new TemplateMetadata(TEMPLATE_ID, buildId, "debootstrap", Instant.now().toString(),
                    DirectoryTrees.sizeOf(rootfs), details);
            md.writeTo(work);
            Path dest = store.buildDir(TEMPLATE_ID, buildId);
            Files.move(work, dest, StandardCopyOption.ATOMIC_MOVE);
            progress.accept("template base ready in " + took.toSeconds() + " s");
            return new TemplateBuild(TEMPLATE_ID, buildId, dest, md);
        } catch (IOException | RuntimeException e) {
            try {
                discard(work);
            } catch (RuntimeException cleanup) {
                e.addSuppressed(cleanup);
            }
            throw e;
        }
    }

    private void runDebootstrap(Path rootfs, Consumer<String> progress) throws IOException {
        List<String> argv = List.of("debootstrap", "--variant=" + VARIANT, "--components=main",
                "--include=" + String.join(",", PACKAGES), SUITE, rootfs.toString(), mirror);
        Process p = new ProcessBuilder(argv).redirectErrorStream(true)
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
        Deque<String> tail = new ArrayDeque<>();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = r.readLine()) != null) {
                progress.accept(line);
                tail.addLast(line);
                if (tail.size() > ERROR_TAIL_LINES) {
                    tail.removeFirst();
                }
            }
        }
        try {
            if (!p.waitFor(DEBOOTSTRAP_TIMEOUT.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS)) {
                p.destroyForcibly();
                throw new TemplateBuildException("debootstrap did not finish within " + DEBOOTSTRAP_TIMEOUT);
            }
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new TemplateBuildException("interrupted while debootstrap was running", e);
        }
        if (p.exitValue() != 0) {
            throw new TemplateBuildException("debootstrap exited with " + p.exitValue() + " (mirror " + mirror
                    + "; see " + rootfs.resolve("debootstrap/debootstrap.log") + " while it exists). Last lines:\n  "
                    + String.join("\n  ", tail));
        }
    }

    /** The steps after debootstrap: the user, sudo, and dropping the downloaded .debs (80 MB nobody needs). */
    private static void configure(Path rootfs) throws IOException {
        HostCommand.check(List.of("chroot", rootfs.toString(), "useradd", "--create-home", "--home-dir", "/home/" + USER,
                "--uid", String.valueOf(USER_UID), "--user-group", "--shell", "/bin/bash", USER));
        Path sudoers = rootfs.resolve("etc/sudoers.d/" + USER);
        Files.writeString(sudoers, USER + " ALL=(ALL:ALL) NOPASSWD: ALL\n");
        Files.setPosixFilePermissions(sudoers, PosixFilePermissions.fromString("r--r-----"));
        Files.writeString(rootfs.resolve("etc/hostname"), "sandbox\n");
        Path archives = rootfs.resolve("var/cache/apt/archives");
        if (Files.isDirectory(archives)) {
            try (Stream<Path> s = Files.list(archives)) {
                for (Path deb : s.filter(f -> f.getFileName().toString().endsWith(".deb")).toList()) {
                    Files.delete(deb);
                }
            }
        }
    }

    /** Removes the working directories of builds that crashed, unmounting whatever debootstrap left mounted. */
    private static void removeDebris(Path templateDir) throws IOException {
        List<Path> debris = new ArrayList<>();
        try (Stream<Path> s = Files.list(templateDir)) {
            s.filter(p -> p.getFileName().toString().startsWith(".build-")).forEach(debris::add);
        }
        for (Path d : debris) {
            discard(d);
        }
    }

    private static void discard(Path work) {
        // debootstrap mounts /proc and /sys inside the target while it runs; a killed run can leave them.
        MountTable.unmountAllUnder(work);
        DirectoryTrees.deleteRecursively(work);
    }

    private static void requireTool(String tool) {
        if (!HostCommand.run(List.of("sh", "-c", "command -v " + tool)).ok()) {
            throw new TemplateBuildException(tool + " is not installed: apt-get install -y " + tool);
        }
    }
}
