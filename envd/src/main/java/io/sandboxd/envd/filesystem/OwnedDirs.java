package io.sandboxd.envd.filesystem;

import io.sandboxd.envd.auth.UserAccount;
import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Deque;

/**
 * {@code mkdir -p} as the calling user: every directory that had to be created is owned by that user (envd runs as
 * root, but a file the SDK user uploads to {@code ~/a/b/c.txt} must be theirs, parents included). Directories that
 * already existed keep their owner.
 */
public final class OwnedDirs {
    private OwnedDirs() {
    }

    /**
     * Creates {@code dir} and its missing parents, chowned to {@code owner}.
     *
     * @return true when {@code dir} itself was created, false when it already was a directory
     * @throws NotDirectoryException when {@code dir} or one of its parents exists and is not a directory
     */
    public static boolean create(Path dir, UserAccount owner) throws IOException {
        Path abs = dir.toAbsolutePath().normalize();
        Deque<Path> missing = new ArrayDeque<>();
        Path p = abs;
        while (p != null && !Files.exists(p)) {
            missing.push(p);
            p = p.getParent();
        }
        if (p != null && !Files.isDirectory(p)) {
            throw new NotDirectoryException(p.toString());
        }
        if (missing.isEmpty()) {
            return false;
        }
        while (!missing.isEmpty()) {
            Path d = missing.pop();
            try {
                Files.createDirectory(d);
            } catch (FileAlreadyExistsException raced) {
                // another request created it meanwhile: fine if it is a directory, and then it is not ours to chown
                if (!Files.isDirectory(d)) {
                    throw new NotDirectoryException(d.toString());
                }
                if (missing.isEmpty()) {
                    return false;
                }
                continue;
            }
            chown(d, owner);
        }
        return true;
    }

    /** Gives {@code path} (not a symlink's target) to the user and the user's primary group. */
    public static void chown(Path path, UserAccount owner) throws IOException {
        Files.setAttribute(path, "unix:uid", owner.uid(), LinkOption.NOFOLLOW_LINKS);
        Files.setAttribute(path, "unix:gid", owner.gid(), LinkOption.NOFOLLOW_LINKS);
    }
}
