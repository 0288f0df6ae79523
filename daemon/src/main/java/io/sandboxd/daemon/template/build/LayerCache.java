package io.sandboxd.daemon.template.build;

import io.sandboxd.daemon.host.DirectoryTrees;
import io.sandboxd.daemon.host.MountTable;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Optional;
import java.util.UUID;
import java.util.regex.Pattern;

/**
 * A team's built layers by step hash, under {@code <data-dir>/templates/_layers/<teamID>/<hash>/fs} (an overlayfs
 * upper directory: the step's changes, whiteouts included). Per team so that one team's files never become
 * another's layer. A layer counts once it is renamed into place; work in progress lives in {@code .tmp-*} names.
 */
public final class LayerCache {
    private static final Pattern HASH = Pattern.compile("[0-9a-f]{64}");
    private static final Pattern TEAM = Pattern.compile("[A-Za-z0-9-]{1,64}");

    private final Path root;

    public LayerCache(Path templatesRoot, String teamId) {
        if (!TEAM.matcher(teamId).matches()) {
            throw new IllegalArgumentException("team ID '" + teamId + "' is not a plain ID");
        }
        this.root = templatesRoot.resolve("_layers").resolve(teamId);
    }

    public Path root() {
        return root;
    }

    /** The layer's tree when it was built before. */
    public Optional<Path> find(String hash) {
        Path fs = dir(hash).resolve("fs");
        return Files.isDirectory(fs) ? Optional.of(fs) : Optional.empty();
    }

    /** A fresh working directory for building {@code hash}: {@code fs/} (upper) and {@code work/} (overlay work). */
    public Path begin(String hash) {
        Path tmp = root.resolve(".tmp-" + check(hash) + "-" + UUID.randomUUID().toString().substring(0, 8));
        try {
            Files.createDirectories(tmp.resolve("fs"));
            Files.createDirectories(tmp.resolve("work"));
            Files.createDirectories(tmp.resolve("merged"));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create " + tmp, e);
        }
        return tmp;
    }

    /** Keeps a finished working directory as the layer of {@code hash} (replacing a forced rebuild's old one). */
    public Path commit(String hash, Path tmp) {
        Path dest = dir(hash);
        try {
            DirectoryTrees.deleteRecursively(tmp.resolve("work"));
            Files.deleteIfExists(tmp.resolve("merged"));
            if (Files.exists(dest)) {
                discard(dest);
            }
            Files.move(tmp, dest, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot keep layer " + hash, e);
        }
        return dest.resolve("fs");
    }

    public static void discard(Path dir) {
        MountTable.unmountAllUnder(dir);
        DirectoryTrees.deleteRecursively(dir);
    }

    private Path dir(String hash) {
        return root.resolve(check(hash));
    }

    private static String check(String hash) {
        if (!HASH.matcher(hash).matches()) {
            throw new IllegalArgumentException("layer hash '" + hash + "' is not a SHA-256 hex digest");
        }
        return hash;
    }
}
