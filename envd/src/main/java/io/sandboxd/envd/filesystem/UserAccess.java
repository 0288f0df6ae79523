package io.sandboxd.envd.filesystem;

import io.sandboxd.envd.auth.UserAccount;
import java.io.IOException;
import java.nio.file.FileSystemLoopException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Map;

/**
 * What a user may write, for envd's writes that follow symbolic links. envd runs as root and, like upstream envd,
 * writes any path a request names; but a symlink can be planted by any process of the sandbox's user, so where a
 * path leads through one, the place it lands must be one that user could write themselves (owner, group and other
 * permission bits, as the kernel checks them; ACLs are not read). Otherwise a request to write {@code ~/notes.txt}
 * would let such a process aim root's write, and the chown that follows, at {@code /etc/passwd}.
 */
public final class UserAccess {
    /** The kernel's limit on symlinks followed in one path resolution (ELOOP past it). */
    static final int MAX_LINKS = 40;

    private UserAccess() {
    }

    /**
     * Where a write to {@code path} lands.
     *
     * @param throughSymlink whether some component of the path was a symlink
     */
    public record Resolved(Path destination, boolean throughSymlink) {
    }

    /**
     * Resolves an absolute path the way the kernel does for {@code open(O_CREAT)}: every existing component that is a
     * symlink is followed (a dangling last one too: the file is created where it points), {@code ..} goes to the
     * physical parent, components that do not exist yet are taken as they are.
     *
     * @throws FileSystemLoopException past {@value #MAX_LINKS} links (a cycle)
     */
    public static Resolved resolve(Path path) throws IOException {
        Path root = path.getRoot();
        if (root == null) {
            throw new IllegalArgumentException("not an absolute path: " + path);
        }
        Deque<String> todo = new ArrayDeque<>();
        path.forEach(p -> todo.addLast(p.toString()));
        Path at = root;
        int links = 0;
        while (!todo.isEmpty()) {
            String name = todo.removeFirst();
            if (name.equals(".") || name.isEmpty()) {
                continue;
            }
            if (name.equals("..")) {
                at = at.getParent() == null ? root : at.getParent();
                continue;
            }
            Path next = at.resolve(name);
            if (!Files.isSymbolicLink(next)) {
                at = next;
                continue;
            }
            if (++links > MAX_LINKS) {
                throw new FileSystemLoopException(path.toString());
            }
            Path target = Files.readSymbolicLink(next);
            Deque<String> parts = new ArrayDeque<>();
            target.forEach(p -> parts.addLast(p.toString()));
            while (!parts.isEmpty()) {
                todo.addFirst(parts.removeLast());
            }
            if (target.isAbsolute()) {
                at = root;
            }
        }
        return new Resolved(at, links > 0);
    }

    /**
     * Whether {@code user} could write {@code destination} (a resolved path, no symlinks): an existing file must be
     * writable, a new one needs write and search permission on its nearest existing directory, and every directory
     * above must be searchable. Root may write anything.
     */
    public static boolean mayWrite(Path destination, UserAccount user) throws IOException {
        if (user.isRoot()) {
            return true;
        }
        Path p = destination;
        boolean checkedWrite = false;
        if (Files.exists(p, LinkOption.NOFOLLOW_LINKS)) {
            if (!allowed(p, user, 2)) {
                return false;
            }
            checkedWrite = true;
            p = p.getParent();
        } else {
            while (p != null && !Files.exists(p, LinkOption.NOFOLLOW_LINKS)) {
                p = p.getParent();
            }
        }
        for (; p != null; p = p.getParent()) {
            if (!checkedWrite) {
                if (!allowed(p, user, 3)) { // write and search in the directory that gets the new entries
                    return false;
                }
                checkedWrite = true;
            } else if (!allowed(p, user, 1)) {
                return false;
            }
        }
        return true;
    }

    /** Whether the owner, group or other bits that apply to {@code user} grant all of {@code bits} (4 r, 2 w, 1 x). */
    private static boolean allowed(Path p, UserAccount user, int bits) throws IOException {
        Map<String, Object> a = Files.readAttributes(p, "unix:uid,gid,mode", LinkOption.NOFOLLOW_LINKS);
        int mode = (Integer) a.get("mode");
        int granted;
        if ((Integer) a.get("uid") == user.uid()) {
            granted = (mode >> 6) & 7;
        } else if (inGroup(user, (Integer) a.get("gid"))) {
            granted = (mode >> 3) & 7;
        } else {
            granted = mode & 7;
        }
        return (granted & bits) == bits;
    }

    private static boolean inGroup(UserAccount user, int gid) {
        if (user.gid() == gid) {
            return true;
        }
        for (int g : user.groups()) {
            if (g == gid) {
                return true;
            }
        }
        return false;
    }
}
