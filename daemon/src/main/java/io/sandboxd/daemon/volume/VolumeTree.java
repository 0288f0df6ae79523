package io.sandboxd.daemon.volume;

import io.sandboxd.api.volume.EntryStat;
import io.sandboxd.api.volume.Ownership;
import io.sandboxd.ffi.Errno;
import io.sandboxd.ffi.Libc;
import io.sandboxd.ffi.NativeException;
import io.sandboxd.daemon.volume.VolumePathException.Kind;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The files of one volume: a directory on the host that sandboxes also have mounted, so anything in it may have been
 * put there by a sandbox's root, symbolic links to {@code /etc} included. Every operation therefore walks the path
 * one component at a time with {@code openat(O_PATH | O_NOFOLLOW | O_DIRECTORY)} from the volume's root, and acts
 * on the last component through the parent's descriptor ({@code /proc/self/fd/N/name}) without following it: no
 * link, planted before or during the call, can lead outside the volume. {@code ..} is refused outright. Reads, writes
 * and metadata changes go through a descriptor of the entry itself ({@code O_NOFOLLOW | O_NONBLOCK}, its type checked
 * on the descriptor), so a FIFO or a link swapped in after the name was checked neither blocks nor redirects them.
 *
 * <p>Entries this API creates belong to {@link #DEFAULT_UID}:{@link #DEFAULT_GID} (the sandboxes' {@code user}) unless
 * the request names an owner, so what is written here can be changed from inside a sandbox and the reverse.
 */
public final class VolumeTree {
    public static final int DEFAULT_UID = 1000;
    public static final int DEFAULT_GID = 1000;
    static final int FILE_MODE = 0644;
    static final int DIR_MODE = 0755;
    /** Reads answer in one body; larger files are refused rather than held in memory. */
    public static final long MAX_READ_BYTES = 64L << 20;
    static final int MAX_PATH_BYTES = 4096;
    static final int MAX_NAME_BYTES = 255;
    private static final LinkOption NOFOLLOW = LinkOption.NOFOLLOW_LINKS;

    private final Path root;

    public VolumeTree(Path root) {
        this.root = root;
    }

    public Path root() {
        return root;
    }

    /** Makes the volume's root directory, owned by the sandboxes' user. */
    public static VolumeTree create(Path root) {
        try {
            Files.createDirectories(root.getParent());
            Files.createDirectory(root);
            Files.setAttribute(root, "unix:mode", DIR_MODE);
            Files.setAttribute(root, "unix:uid", DEFAULT_UID);
            Files.setAttribute(root, "unix:gid", DEFAULT_GID);
            return new VolumeTree(root);
        } catch (IOException e) {
            throw new VolumePathException(Kind.FAILED, "cannot create the volume directory " + root + ": " + e, e);
        }
    }

    /** The path's components inside the volume; {@code /}, {@code ""} and {@code .} are the root. */
    static List<String> components(String path) {
        if (path.indexOf('\0') >= 0) {
            throw new VolumePathException(Kind.INVALID, "a volume path cannot contain a NUL character");
        }
        if (path.getBytes(StandardCharsets.UTF_8).length > MAX_PATH_BYTES) {
            throw new VolumePathException(Kind.INVALID, "volume paths are at most " + MAX_PATH_BYTES + " bytes");
        }
        List<String> out = new ArrayList<>();
        for (String c : path.split("/")) {
            if (c.isEmpty() || c.equals(".")) {
                continue;
            }
            if (c.equals("..")) {
                throw new VolumePathException(Kind.INVALID, "'..' is not allowed in volume paths, got '" + path + "'");
            }
            if (c.getBytes(StandardCharsets.UTF_8).length > MAX_NAME_BYTES) {
                throw new VolumePathException(Kind.INVALID, "a name in a volume path is at most " + MAX_NAME_BYTES
                        + " bytes");
            }
            out.add(c);
        }
        return out;
    }

    static String display(List<String> components) {
        return "/" + String.join("/", components);
    }

    // ---- operations --------------------------------------------------------------------------------------------

    public EntryStat stat(String path) {
        List<String> c = components(path);
        if (c.isEmpty()) {
            try (Dir dir = openRoot()) {
                return dir.stat(c);
            }
        }
        try (Dir parent = walk(c.subList(0, c.size() - 1), null)) {
            return existing(parent, c);
        }
    }

    public List<EntryStat> list(String path, int depth) {
        List<String> c = components(path);
        List<EntryStat> out = new ArrayList<>();
        try (Dir dir = walk(c, null)) {
            listInto(dir, c, depth, out);
        }
        return out;
    }

    public EntryStat makeDir(String path, Ownership ownership, boolean parents) {
        List<String> c = components(path);
        if (c.isEmpty()) {
            if (parents) {
                return stat(path);
            }
            throw new VolumePathException(Kind.CONFLICT, "the volume's root directory always exists");
        }
        try (Dir parent = walk(c.subList(0, c.size() - 1), parents ? ownership : null)) {
            Path p = parent.child(c.getLast());
            try {
                Files.createDirectory(p);
            } catch (FileAlreadyExistsException e) {
                EntryStat there = existing(parent, c);
                if (parents && there.type().equals("directory")) {
                    return there;
                }
                throw new VolumePathException(Kind.CONFLICT, display(c) + " already exists (a " + there.type() + ")");
            } catch (IOException e) {
                throw failed("creating directory " + display(c), e);
            }
            ownNewDirectory(parent, c, ownership);
            return existing(parent, c);
        }
    }

    public byte[] read(String path) {
        List<String> c = components(path);
        if (c.isEmpty()) {
            throw new VolumePathException(Kind.INVALID, "/ is a directory, not a file");
        }
        try (Dir parent = walk(c.subList(0, c.size() - 1), null)) {
            requireFile(existing(parent, c), c);
            try (Entry f = Entry.open(parent, c, Libc.O_RDONLY)) {
                EntryStat held = f.stat(c);
                requireFile(held, c); // what the descriptor holds, whatever the name means by now
                if (held.size() > MAX_READ_BYTES) {
                    throw tooLarge(c, held.size());
                }
                return f.readAll(c);
            }
        }
    }

    public EntryStat write(String path, byte[] content, Ownership ownership) {
        List<String> c = components(path);
        if (c.isEmpty()) {
            throw new VolumePathException(Kind.INVALID, "/ is a directory, not a file");
        }
        try (Dir parent = walk(c.subList(0, c.size() - 1), ownership)) {
            EntryStat before = maybe(parent, c);
            if (before != null) {
                requireFile(before, c);
            }
            try (Entry f = Entry.open(parent, c, Libc.O_WRONLY | Libc.O_CREAT | Libc.O_TRUNC)) {
                requireFile(f.stat(c), c);
                f.writeAll(content, c);
                f.apply(before == null ? withDefaults(ownership, FILE_MODE) : ownership, c);
            }
            return existing(parent, c);
        }
    }

    public EntryStat updateMetadata(String path, Ownership ownership) {
        List<String> c = components(path);
        if (c.isEmpty()) {
            try (Dir dir = openRoot()) {
                apply(dir.self(), ownership, c);
                return dir.stat(c);
            }
        }
        try (Dir parent = walk(c.subList(0, c.size() - 1), null)) {
            requireFileOrDirectory(existing(parent, c), c);
            try (Entry e = Entry.open(parent, c, Libc.O_RDONLY)) {
                requireFileOrDirectory(e.stat(c), c);
                e.apply(ownership, c);
            }
            return existing(parent, c);
        }
    }

    public void remove(String path) {
        List<String> c = components(path);
        if (c.isEmpty()) {
            throw new VolumePathException(Kind.INVALID, "the volume's root directory cannot be removed (destroy the "
                    + "volume instead)");
        }
        try (Dir parent = walk(c.subList(0, c.size() - 1), null)) {
            existing(parent, c);
            removeEntry(parent, c.getLast(), c);
        }
    }

    /** Removes the volume's directory and everything in it, never following a link. */
    public void removeAll() {
        if (!Files.exists(root, NOFOLLOW)) {
            return;
        }
        Dir parent = new Dir(open(Libc.AT_FDCWD, root.getParent().toString(), 0, List.of()));
        try (parent) {
            removeEntry(parent, root.getFileName().toString(), List.of());
        }
    }

    // ---- the walk ----------------------------------------------------------------------------------------------

    /** An {@code O_PATH} descriptor of one directory in the volume. */
    private static final class Dir implements AutoCloseable {
        final int fd;

        Dir(int fd) {
            this.fd = fd;
        }

        /** The directory itself: {@code /proc/self/fd/N} leads to this exact directory, whatever its path now. */
        Path self() {
            return Path.of("/proc/self/fd/" + fd);
        }

        /** An entry of the directory, to be used without following it. */
        Path child(String name) {
            return self().resolve(name);
        }

        EntryStat stat(List<String> components) {
            try {
                return entry(Files.readAttributes(self(), "unix:*"), components, null);
            } catch (IOException e) {
                throw failed("reading " + display(components), e);
            }
        }

        @Override
        public void close() {
            Libc.close(fd);
        }
    }

    private Dir openRoot() {
        try {
            return new Dir(open(Libc.AT_FDCWD, root.toString(), 0, List.of()));
        } catch (VolumePathException e) {
            throw new VolumePathException(Kind.FAILED, "the volume's directory " + root + " is missing: " + e.getMessage(), e);
        }
    }

    /**
     * The directory at {@code dirs}, opened component by component without following links. With {@code create}
     * (not null), missing directories are made with that ownership; else a missing one is NOT_FOUND.
     */
    private Dir walk(List<String> dirs, Ownership create) {
        Dir cur = openRoot();
        try {
            for (int i = 0; i < dirs.size(); i++) {
                String name = dirs.get(i);
                List<String> upTo = dirs.subList(0, i + 1);
                Dir next;
                try {
                    next = new Dir(open(cur.fd, name, Libc.O_NOFOLLOW, upTo));
                } catch (VolumePathException missing) {
                    if (missing.kind() != Kind.NOT_FOUND || create == null) {
                        throw missing;
                    }
                    try {
                        Files.createDirectory(cur.child(name));
                        // the request's owner, but a directory's mode: its own mode may be a file's (0600)
                        ownNewDirectory(cur, upTo, new Ownership(create.uid(), create.gid(), null));
                    } catch (FileAlreadyExistsException raced) {
                        // made by someone else meanwhile: open what is there (or fail on what it is)
                    } catch (IOException e) {
                        throw failed("creating directory " + display(upTo), e);
                    }
                    next = new Dir(open(cur.fd, name, Libc.O_NOFOLLOW, upTo));
                }
                cur.close();
                cur = next;
            }
            return cur;
        } catch (RuntimeException e) {
            cur.close();
            throw e;
        }
    }

    /** {@code openat(dirfd, name, O_PATH | O_DIRECTORY | extraFlags)}; {@code shown} is the path messages name. */
    private static int open(int dirfd, String name, int extraFlags, List<String> shown) {
        try {
            return Libc.openat(dirfd, name, Libc.O_PATH | Libc.O_DIRECTORY | Libc.O_CLOEXEC | extraFlags, 0);
        } catch (NativeException e) {
            if (e.is(Errno.ENOENT)) {
                throw new VolumePathException(Kind.NOT_FOUND, display(shown) + " does not exist");
            }
            if (e.is(Errno.ENOTDIR) || e.is(Errno.ELOOP)) {
                throw new VolumePathException(Kind.INVALID, display(shown) + " is not a directory (it is a file or a "
                        + "symbolic link, which the volume file API never follows)");
            }
            throw new VolumePathException(Kind.FAILED, "opening " + display(shown) + " failed: " + e.getMessage(), e);
        }
    }

    private void listInto(Dir dir, List<String> at, int depth, List<EntryStat> out) {
        List<String> names = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir.self())) {
            for (Path p : ds) {
                names.add(p.getFileName().toString());
            }
        } catch (IOException e) {
            throw failed("listing " + display(at), e);
        }
        names.sort(null);
        for (String name : names) {
            List<String> c = append(at, name);
            EntryStat e = maybe(dir, c);
            if (e == null) {
                continue; // removed while we listed
            }
            out.add(e);
            if (depth > 1 && e.type().equals("directory")) {
                Dir child;
                try {
                    child = new Dir(open(dir.fd, name, Libc.O_NOFOLLOW, c));
                } catch (VolumePathException changed) {
                    continue; // replaced by something else while we listed
                }
                try (child) {
                    listInto(child, c, depth - 1, out);
                }
            }
        }
    }

    private void removeEntry(Dir parent, String name, List<String> c) {
        Dir child = null;
        try {
            child = new Dir(open(parent.fd, name, Libc.O_NOFOLLOW, c));
        } catch (VolumePathException notADirectory) {
            if (notADirectory.kind() == Kind.NOT_FOUND) {
                return;
            }
            // a file or link: unlinked below
        }
        if (child != null) {
            emptyDirectory(child, c);
        }
        try {
            Files.deleteIfExists(parent.child(name));
        } catch (IOException e) {
            throw failed("removing " + display(c), e);
        }
    }

    /** Removes everything in {@code dir} and closes it. */
    private void emptyDirectory(Dir dir, List<String> c) {
        try (dir) {
            List<String> names = new ArrayList<>();
            try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir.self())) {
                ds.forEach(p -> names.add(p.getFileName().toString()));
            } catch (IOException e) {
                throw failed("listing " + display(c), e);
            }
            for (String n : names) {
                removeEntry(dir, n, append(c, n));
            }
        }
    }

    // ---- entries -----------------------------------------------------------------------------------------------

    private static EntryStat existing(Dir parent, List<String> c) {
        EntryStat e = maybe(parent, c);
        if (e == null) {
            throw new VolumePathException(Kind.NOT_FOUND, display(c) + " does not exist");
        }
        return e;
    }

    private static EntryStat maybe(Dir parent, List<String> c) {
        Path p = parent.child(c.getLast());
        try {
            Map<String, Object> a = Files.readAttributes(p, "unix:*", NOFOLLOW);
            String target = Boolean.TRUE.equals(a.get("isSymbolicLink")) ? Files.readSymbolicLink(p).toString() : null;
            return entry(a, c, target);
        } catch (NoSuchFileException e) {
            return null;
        } catch (IOException e) {
            throw failed("reading " + display(c), e);
        }
    }

    private static EntryStat entry(Map<String, Object> a, List<String> c, String target) {
        String type = Boolean.TRUE.equals(a.get("isSymbolicLink")) ? "symlink"
                : Boolean.TRUE.equals(a.get("isDirectory")) ? "directory"
                : Boolean.TRUE.equals(a.get("isRegularFile")) ? "file" : "unknown";
        return new EntryStat(c.isEmpty() ? "" : c.getLast(), display(c), type, (Long) a.get("size"),
                (Integer) a.get("mode") & 07777, (Integer) a.get("uid"), (Integer) a.get("gid"),
                time(a.get("lastAccessTime")), time(a.get("lastModifiedTime")), time(a.get("ctime")), target);
    }

    private static Instant time(Object t) {
        return ((FileTime) t).toInstant();
    }

    private static void requireFile(EntryStat e, List<String> c) {
        if (!e.type().equals("file")) {
            throw new VolumePathException(Kind.INVALID, display(c) + " is a " + e.type() + ", not a file"
                    + (e.type().equals("symlink") ? " (the volume file API never follows symbolic links)" : ""));
        }
    }

    /** What was asked, else the owner and mode of a new entry. */
    private static Ownership withDefaults(Ownership o, int defaultMode) {
        Ownership asked = o == null ? Ownership.DEFAULT : o;
        return new Ownership(asked.uid() == null ? DEFAULT_UID : asked.uid(),
                asked.gid() == null ? DEFAULT_GID : asked.gid(), asked.mode() == null ? defaultMode : asked.mode());
    }

    /** Gives a directory just made its owner and mode, through a descriptor of it (never a link put in its place). */
    private static void ownNewDirectory(Dir parent, List<String> c, Ownership o) {
        try (Entry d = Entry.open(parent, c, Libc.O_RDONLY | Libc.O_DIRECTORY)) {
            d.apply(withDefaults(o, DIR_MODE), c);
        }
    }

    /**
     * Sets what is given on {@code p}, following it: only called with {@code /proc/self/fd/N} paths, which lead to
     * the exact file the descriptor holds.
     */
    private static void apply(Path p, Ownership o, List<String> c) {
        try {
            if (o.uid() != null) {
                Files.setAttribute(p, "unix:uid", o.uid());
            }
            if (o.gid() != null) {
                Files.setAttribute(p, "unix:gid", o.gid());
            }
            if (o.mode() != null) {
                Files.setAttribute(p, "unix:mode", o.mode());
            }
        } catch (IOException e) {
            throw failed("setting the owner or mode of " + display(c), e);
        }
    }

    /**
     * An open descriptor of one entry (the last component, opened through its parent's descriptor): never a link
     * ({@code O_NOFOLLOW}), and never blocking on a FIFO a sandbox left there ({@code O_NONBLOCK}); its type is
     * checked on the descriptor, so a swap after the name's check changes nothing.
     */
    private static final class Entry implements AutoCloseable {
        private static final int CHUNK = 1 << 16;
        final int fd;

        private Entry(int fd) {
            this.fd = fd;
        }

        static Entry open(Dir parent, List<String> c, int access) {
            try {
                return new Entry(Libc.openat(parent.fd, c.getLast(), access | Libc.O_NOFOLLOW | Libc.O_NONBLOCK
                        | Libc.O_CLOEXEC, FILE_MODE));
            } catch (NativeException e) {
                if (e.is(Errno.ENOENT)) {
                    throw new VolumePathException(Kind.NOT_FOUND, display(c) + " does not exist");
                }
                if (e.is(Errno.ELOOP)) {
                    throw new VolumePathException(Kind.INVALID, display(c) + " is a symbolic link, which the volume file "
                            + "API never follows");
                }
                if (e.is(Errno.EISDIR) || e.is(Errno.ENOTDIR)) {
                    throw new VolumePathException(Kind.INVALID, display(c) + (e.is(Errno.EISDIR) ? " is a directory"
                            : " is not a directory"));
                }
                if (e.is(Errno.ENXIO)) {
                    throw new VolumePathException(Kind.INVALID, display(c) + " is not a regular file");
                }
                throw new VolumePathException(Kind.FAILED, "opening " + display(c) + " failed: " + e.getMessage(), e);
            }
        }

        Path self() {
            return Path.of("/proc/self/fd/" + fd);
        }

        EntryStat stat(List<String> c) {
            try {
                return entry(Files.readAttributes(self(), "unix:*"), c, null);
            } catch (IOException e) {
                throw failed("reading " + display(c), e);
            }
        }

        void apply(Ownership o, List<String> c) {
            VolumeTree.apply(self(), o, c);
        }

        byte[] readAll(List<String> c) {
            java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment buf = arena.allocate(CHUNK);
                while (true) {
                    long n = Libc.read(fd, buf);
                    if (n <= 0) {
                        return out.toByteArray();
                    }
                    if (out.size() + n > MAX_READ_BYTES) {
                        throw tooLarge(c, out.size() + n);
                    }
                    out.write(buf.asSlice(0, n).toArray(ValueLayout.JAVA_BYTE), 0, (int) n);
                }
            } catch (NativeException e) {
                throw new VolumePathException(Kind.FAILED, "reading " + display(c) + " failed: " + e.getMessage(), e);
            }
        }

        void writeAll(byte[] content, List<String> c) {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment buf = arena.allocate(CHUNK);
                int off = 0;
                while (off < content.length) {
                    int len = Math.min(CHUNK, content.length - off);
                    MemorySegment.copy(content, off, buf, ValueLayout.JAVA_BYTE, 0, len);
                    long n = Libc.write(fd, buf.asSlice(0, len));
                    off += (int) n;
                }
            } catch (NativeException e) {
                if (e.is(Errno.ENOSPC)) {
                    throw new VolumePathException(Kind.FAILED, "writing " + display(c) + ": no space left on the "
                            + "volume's file system", e);
                }
                throw new VolumePathException(Kind.FAILED, "writing " + display(c) + " failed: " + e.getMessage(), e);
            }
        }

        @Override
        public void close() {
            Libc.close(fd);
        }
    }

    private static VolumePathException tooLarge(List<String> c, long size) {
        return new VolumePathException(Kind.INVALID, display(c) + " is " + size + " bytes or more; the volume file API "
                + "reads files of at most " + MAX_READ_BYTES + " bytes");
    }

    private static void requireFileOrDirectory(EntryStat e, List<String> c) {
        if (!e.type().equals("file") && !e.type().equals("directory")) {
            throw new VolumePathException(Kind.INVALID, display(c) + " is a " + e.type() + "; the volume file API "
                    + "changes the metadata of files and directories only");
        }
    }

    private static List<String> append(List<String> c, String name) {
        List<String> out = new ArrayList<>(c);
        out.add(name);
        return out;
    }

    private static VolumePathException failed(String what, IOException e) {
        if (e instanceof NoSuchFileException) {
            return new VolumePathException(Kind.NOT_FOUND, what + ": it does not exist", e);
        }
        if (e instanceof java.nio.file.DirectoryNotEmptyException) {
            // a sandbox that has the volume mounted added entries meanwhile
            return new VolumePathException(Kind.CONFLICT, what + ": the directory is not empty (entries were added "
                    + "while it was being removed); try again", e);
        }
        return new VolumePathException(Kind.FAILED, what + " failed: " + e, e);
    }
}
