package io.sandboxd.daemon.template.oci;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;

/**
 * Resolves a path inside an image's root file system the way it resolves for a process chrooted there: symbolic
 * links are followed (an absolute target starts again at the root, {@code ..} stops at the root), so a layer that
 * writes {@code /lib/x} through Debian's {@code /lib -> usr/lib} lands in {@code usr/lib}, and one whose link points
 * at {@code /etc} or {@code ../../..} of the host cannot reach out of the root.
 */
final class RootedPath {
    static final int MAX_LINKS = 40;

    private RootedPath() {
    }

    /**
     * The real directory that {@code components} name under {@code root}, following links in every component;
     * missing directories are made (mode 0755) when {@code create}.
     */
    static Path directory(Path root, List<String> components, boolean create) throws IOException {
        Deque<String> todo = new ArrayDeque<>(components);
        Path cur = root;
        int links = 0;
        while (!todo.isEmpty()) {
            String c = todo.pop();
            if (c.isEmpty() || c.equals(".")) {
                continue;
            }
            if (c.equals("..")) {
                cur = cur.equals(root) ? root : cur.getParent();
                continue;
            }
            Path next = cur.resolve(c);
            if (Files.isSymbolicLink(next)) {
                if (++links > MAX_LINKS) {
                    throw new OciException("more than " + MAX_LINKS + " symbolic links on the way to "
                            + String.join("/", components));
                }
                String target = Files.readSymbolicLink(next).toString();
                List<String> parts = List.of(target.split("/"));
                for (int i = parts.size() - 1; i >= 0; i--) {
                    todo.push(parts.get(i));
                }
                if (target.startsWith("/")) {
                    cur = root;
                }
                continue;
            }
            if (!Files.exists(next, LinkOption.NOFOLLOW_LINKS)) {
                if (!create) {
                    throw new OciException("/" + String.join("/", components) + " does not exist in the image");
                }
                Files.createDirectory(next);
            } else if (!Files.isDirectory(next, LinkOption.NOFOLLOW_LINKS)) {
                throw new OciException("/" + String.join("/", components) + ": " + root.relativize(next)
                        + " is not a directory");
            }
            cur = next;
        }
        return cur;
    }

    /** The path {@code components} name: links followed in the parents, the last component itself not followed. */
    static Path entry(Path root, List<String> components, boolean createParents) throws IOException {
        if (components.isEmpty()) {
            return root;
        }
        Path parent = directory(root, components.subList(0, components.size() - 1), createParents);
        return parent.resolve(components.getLast());
    }
}
