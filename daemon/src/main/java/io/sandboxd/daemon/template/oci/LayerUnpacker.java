package io.sandboxd.daemon.template.oci;

import io.airlift.compress.zstd.ZstdInputStream;
import io.sandboxd.ffi.Libc;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import java.util.zip.GZIPInputStream;

/**
 * Applies one image layer (a tar, plain, gzip or zstd: told apart by its first bytes, as registries label them
 * loosely) to a root file system, the way a container runtime stacks layers: entries replace what lower layers
 * left, {@code .wh.<name>} removes {@code <name>} from below and {@code .wh..wh..opq} empties its directory of what
 * came from below. Every path is resolved inside the root ({@link RootedPath}): {@code ..} entries are refused, and
 * links planted by a layer cannot carry a later write out of it. Owners, modes (set-user-ID too) and times are
 * kept; device nodes are skipped (a jail gets its {@code /dev} from runc).
 */
public final class LayerUnpacker {
    static final String WHITEOUT = ".wh.";
    static final String OPAQUE = ".wh..wh..opq";

    /** What one layer did. */
    public record Applied(int entries, int removed, int skippedDevices) {}

    private LayerUnpacker() {
    }

    public static Applied apply(Path layer, Path root) {
        try (InputStream raw = new BufferedInputStream(Files.newInputStream(layer), 1 << 16);
             TarArchiveInputStream tar = new TarArchiveInputStream(decompressed(raw))) {
            return apply(tar, root, layer.getFileName().toString());
        } catch (IOException e) {
            throw new OciException("layer " + layer.getFileName() + ": " + e.getMessage(), e);
        }
    }

    static InputStream decompressed(InputStream in) throws IOException {
        in.mark(4);
        byte[] magic = in.readNBytes(4);
        in.reset();
        if (magic.length >= 2 && (magic[0] & 0xff) == 0x1f && (magic[1] & 0xff) == 0x8b) {
            return new GZIPInputStream(in, 1 << 16);
        }
        if (magic.length == 4 && (magic[0] & 0xff) == 0x28 && (magic[1] & 0xff) == 0xb5 && (magic[2] & 0xff) == 0x2f
                && (magic[3] & 0xff) == 0xfd) {
            return new ZstdInputStream(in);
        }
        return in;
    }

    private static Applied apply(TarArchiveInputStream tar, Path root, String name) throws IOException {
        Set<String> added = new HashSet<>();
        int entries = 0;
        int removed = 0;
        int devices = 0;
        TarArchiveEntry e;
        while ((e = tar.getNextEntry()) != null) {
            List<String> parts = components(e.getName(), name);
            if (parts.isEmpty()) {
                continue; // the root itself
            }
            entries++;
            String base = parts.getLast();
            String rel = String.join("/", parts);
            if (base.equals(OPAQUE)) {
                List<String> dirParts = parts.subList(0, parts.size() - 1);
                Path dir = RootedPath.directory(root, dirParts, true);
                String prefix = dirParts.isEmpty() ? "" : String.join("/", dirParts) + "/";
                try (Stream<Path> children = Files.list(dir)) {
                    for (Path child : children.toList()) {
                        if (!added.contains(prefix + child.getFileName())) {
                            deleteTree(child);
                            removed++;
                        }
                    }
                }
                continue;
            }
            if (base.startsWith(WHITEOUT)) {
                List<String> target = new ArrayList<>(parts.subList(0, parts.size() - 1));
                target.add(base.substring(WHITEOUT.length()));
                if (!added.contains(String.join("/", target))) {
                    Path victim = RootedPath.entry(root, target, true);
                    if (Files.exists(victim, LinkOption.NOFOLLOW_LINKS)) {
                        deleteTree(victim);
                        removed++;
                    }
                }
                continue;
            }
            if (e.isCharacterDevice() || e.isBlockDevice() || e.isFIFO()) {
                devices++;
                continue;
            }
            Path path = RootedPath.entry(root, parts, true);
            boolean existingDir = Files.isDirectory(path, LinkOption.NOFOLLOW_LINKS);
            if (Files.exists(path, LinkOption.NOFOLLOW_LINKS) && !(e.isDirectory() && existingDir)) {
                deleteTree(path);
            }
            if (e.isDirectory()) {
                if (!existingDir) {
                    Files.createDirectory(path);
                }
            } else if (e.isSymbolicLink()) {
                Files.createSymbolicLink(path, Path.of(e.getLinkName()));
            } else if (e.isLink()) {
                Files.createLink(path, hardLinkTarget(root, e, rel, name));
            } else if (e.isFile()) {
                Files.copy(tar, path, StandardCopyOption.REPLACE_EXISTING);
            } else {
                throw new OciException("layer " + name + ": entry " + rel + " has an unsupported type '"
                        + (char) e.getLinkFlag() + "'");
            }
            if (!e.isLink()) {
                Files.setAttribute(path, "unix:uid", (int) e.getLongUserId(), LinkOption.NOFOLLOW_LINKS);
                Files.setAttribute(path, "unix:gid", (int) e.getLongGroupId(), LinkOption.NOFOLLOW_LINKS);
                if (!e.isSymbolicLink()) {
                    Libc.chmod(path.toString(), e.getMode() & 07777); // after chown, which clears set-user-ID
                    Files.setLastModifiedTime(path, FileTime.from(e.getLastModifiedTime().toInstant()));
                }
            }
            added.add(rel);
        }
        return new Applied(entries, removed, devices);
    }

    /** The file a hard link entry names: one already in the image, never a directory. */
    private static Path hardLinkTarget(Path root, TarArchiveEntry e, String rel, String layer) throws IOException {
        Path target = null;
        try {
            target = RootedPath.entry(root, components(e.getLinkName(), layer), false);
        } catch (OciException missingParent) {
            // reported below, naming the link
        }
        if (target == null || !Files.exists(target, LinkOption.NOFOLLOW_LINKS)
                || Files.isDirectory(target, LinkOption.NOFOLLOW_LINKS)) {
            throw new OciException("layer " + layer + ": hard link " + rel + " points at " + e.getLinkName()
                    + ", which is not a file in the image");
        }
        return target;
    }

    /** An entry's path as components below the root; {@code ..} anywhere is a hostile layer. */
    static List<String> components(String entryName, String layer) {
        List<String> out = new ArrayList<>();
        for (String c : entryName.split("/")) {
            if (c.isEmpty() || c.equals(".")) {
                continue;
            }
            if (c.equals("..")) {
                throw new OciException("layer " + layer + ": entry \"" + entryName + "\" climbs out with ..: refused");
            }
            out.add(c);
        }
        return out;
    }

    static void deleteTree(Path path) throws IOException {
        if (Files.isDirectory(path, LinkOption.NOFOLLOW_LINKS)) {
            try (Stream<Path> children = Files.list(path)) {
                for (Path child : children.toList()) {
                    deleteTree(child);
                }
            }
        }
        Files.delete(path);
    }
}
