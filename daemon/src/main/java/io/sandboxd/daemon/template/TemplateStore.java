package io.sandboxd.daemon.template;

import io.sandboxd.daemon.host.DirectoryTrees;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Template builds under {@code <data-dir>/templates}. A build counts once its {@code metadata.json} exists
 * (builders write it last, then move the build into place), so a half-made build is never picked.
 */
public final class TemplateStore {
    private static final Pattern ID = Pattern.compile("[A-Za-z0-9_-]{1,64}");

    private final Path root;

    public TemplateStore(Path dataDir) {
        this.root = dataDir.resolve("templates");
    }

    public Path root() {
        return root;
    }

    public Path templateDir(String templateId) {
        return root.resolve(checkId("template", templateId));
    }

    public Path buildDir(String templateId, String buildId) {
        return templateDir(templateId).resolve(checkId("build", buildId));
    }

    /** The newest complete build of {@code templateId}, if any. */
    public Optional<TemplateBuild> latest(String templateId) {
        return builds(templateId).stream().max(Comparator.comparing(b -> b.metadata().createdAt()));
    }

    public Optional<TemplateBuild> find(String templateId, String buildId) {
        Path dir = buildDir(templateId, buildId);
        if (!Files.isRegularFile(dir.resolve(TemplateMetadata.FILE_NAME))) {
            return Optional.empty();
        }
        return Optional.of(new TemplateBuild(templateId, buildId, dir, TemplateMetadata.readFrom(dir)));
    }

    /** Complete builds of {@code templateId}; directories of unfinished builds (names starting with '.') are skipped. */
    public List<TemplateBuild> builds(String templateId) {
        Path dir = templateDir(templateId);
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> !p.getFileName().toString().startsWith("."))
                    .filter(p -> Files.isRegularFile(p.resolve(TemplateMetadata.FILE_NAME)))
                    .map(p -> new TemplateBuild(templateId, p.getFileName().toString(), p, TemplateMetadata.readFrom(p)))
                    .toList();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + dir, e);
        }
    }

    /**
     * Writes a layered build (its layer list, top first, and {@code metadata}) under a work directory and moves it
     * into place in one rename, so a half-written build is never found.
     */
    public void writeLayeredBuild(List<String> lowerDirs, TemplateMetadata metadata) {
        Path work = templateDir(metadata.templateId()).resolve(".build-" + checkId("build", metadata.buildId()));
        try {
            Files.createDirectories(work);
            Files.write(work.resolve(TemplateBuild.LAYERS_FILE), lowerDirs);
            metadata.writeTo(work);
            Files.move(work, buildDir(metadata.templateId(), metadata.buildId()), StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            DirectoryTrees.deleteRecursively(work);
            throw new UncheckedIOException("cannot write build " + metadata.buildId(), e);
        }
    }

    /**
     * The directory name under which a tagged build of {@code templateId} is offered to the runtime:
     * {@code templates/<taggedId>/<buildID>} is a link to the build's own directory, so the runtime, which prepares
     * the newest build of a template directory, prepares the tagged one there.
     */
    public static String taggedId(String templateId, String tag) {
        try {
            byte[] h = java.security.MessageDigest.getInstance("SHA-256").digest(tag.getBytes(
                    java.nio.charset.StandardCharsets.UTF_8));
            return checkId("template", templateId) + TAG_MARK + java.util.HexFormat.of().formatHex(h, 0, 6);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new AssertionError("SHA-256 is required of every JDK", e);
        }
    }

    /** What {@link #taggedId} puts between the template ID and the tag's hash. */
    public static final String TAG_MARK = "-t";

    /** Offers build {@code buildId} of {@code templateId} under {@link #taggedId}; returns that directory. */
    public Path linkTagged(String templateId, String tag, String buildId) {
        Path dir = templateDir(taggedId(templateId, tag));
        try {
            Files.createDirectories(dir);
            try (Stream<Path> old = Files.list(dir)) {
                for (Path p : old.toList()) {
                    Files.delete(p); // links only: the tag named another build before
                }
            }
            Files.createSymbolicLink(dir.resolve(checkId("build", buildId)), buildDir(templateId, buildId));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot link the tagged build under " + dir, e);
        }
        return dir;
    }

    /** Removes what {@link #linkTagged} made (never the build itself). */
    public void unlinkTagged(String templateId, String tag) {
        Path dir = templateDir(taggedId(templateId, tag));
        if (!Files.isDirectory(dir, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (Stream<Path> links = Files.list(dir)) {
            for (Path p : links.toList()) {
                Files.delete(p);
            }
            Files.delete(dir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot remove " + dir, e);
        }
    }

    /**
     * Templates other than {@code templateId} with a build that mounts a layer inside {@code templateId}'s directory
     * (a snapshot of a sandbox that ran a snapshot, a template built from one): deleting {@code templateId} would pull
     * their layers away.
     */
    public List<String> dependentsOf(String templateId) {
        Path own = templateDir(templateId);
        List<String> out = new ArrayList<>();
        if (!Files.isDirectory(root)) {
            return out;
        }
        try (Stream<Path> dirs = Files.list(root)) {
            for (Path d : dirs.toList()) {
                String id = d.getFileName().toString();
                if (id.equals(templateId) || id.startsWith(templateId + TAG_MARK) || !ID.matcher(id).matches()
                        || !Files.isDirectory(d)) {
                    continue;
                }
                boolean uses = builds(id).stream().anyMatch(b -> Arrays.stream(b.lowerDirs().split(":"))
                        .map(Path::of).anyMatch(p -> p.startsWith(own)));
                if (uses) {
                    out.add(id);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + root, e);
        }
        return out;
    }

    static String checkId(String what, String id) {
        if (id == null || !ID.matcher(id).matches()) {
            throw new IllegalArgumentException(what + " ID '" + id + "' must be 1-64 of [A-Za-z0-9_-]");
        }
        return id;
    }
}
