package io.sandboxd.envd.filesystem;

import io.sandboxd.envd.connect.ConnectCode;
import io.sandboxd.envd.connect.ConnectException;
import io.sandboxd.envd.proto.filesystem.EntryInfo;
import io.sandboxd.envd.proto.filesystem.EventType;
import io.sandboxd.envd.proto.filesystem.FilesystemEvent;
import io.sandboxd.ffi.Errno;
import io.sandboxd.ffi.Inotify;
import io.sandboxd.ffi.Libc;
import io.sandboxd.ffi.NativeException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Stream;

/**
 * One watched directory (optionally with its whole subtree) on its own inotify instance, read by one platform thread
 * (it blocks in {@code poll}, so it must not be a virtual thread). Events reach the {@link Listener} on that thread,
 * named relative to the watched directory ({@code sub/file.txt}) and typed like upstream envd's fsnotify mapping:
 * create/moved-to = CREATE, modify = WRITE, delete = REMOVE, moved-from = RENAME, attrib = CHMOD.
 *
 * <p>Recursive watches add a watch for every directory created or moved into the tree, and report what such a
 * directory already holds as CREATE events (it may have been filled before its watch existed, e.g. {@code mkdir -p}).
 * Directories moved out of the tree lose their watches.
 *
 * <p>The instance owns two fds (the inotify fd and an eventfd that wakes the thread for {@link #close()}); the
 * thread closes both when it ends, so nothing leaks whether the watch is closed by the client, a deadline or an
 * error.
 */
public final class DirWatch implements AutoCloseable {
    /** Receives events on the watch thread; a slow listener leaves events queued in the kernel. */
    public interface Listener {
        void onEvent(FilesystemEvent event);

        /** The watch cannot go on (inotify queue overflow); no more events follow. */
        void onError(ConnectException error);
    }

    private static final int DIR_MASK = Inotify.IN_CREATE | Inotify.IN_MOVED_TO | Inotify.IN_MOVED_FROM
            | Inotify.IN_DELETE | Inotify.IN_MODIFY | Inotify.IN_ATTRIB | Inotify.IN_ONLYDIR | Inotify.IN_EXCL_UNLINK;

    private final Path root;
    private final boolean recursive;
    private final boolean includeEntry;
    private final EntryInfos entries;
    private final Listener listener;
    private final int inotifyFd;
    private final int wakeFd;
    /** wd to the directory's path relative to {@link #root} ({@code ""} for the root); only the watch thread writes. */
    private final Map<Integer, String> dirs = new HashMap<>();
    private final AtomicBoolean closed = new AtomicBoolean();
    private final Thread thread;

    private DirWatch(Path root, boolean recursive, boolean includeEntry, EntryInfos entries, Listener listener,
                     int inotifyFd, int wakeFd) {
        this.root = root;
        this.recursive = recursive;
        this.includeEntry = includeEntry;
        this.entries = entries;
        this.listener = listener;
        this.inotifyFd = inotifyFd;
        this.wakeFd = wakeFd;
        this.thread = Thread.ofPlatform().daemon().name("envd-watch " + root).unstarted(this::run);
    }

    /**
     * Watches {@code dir} (an existing directory; the caller checked). When this returns, every watch is in place:
     * changes made after it are reported.
     *
     * @throws ConnectException {@code resource_exhausted} when the inotify limits are reached, {@code internal} on
     *         other failures
     */
    public static DirWatch start(Path dir, boolean recursive, boolean includeEntry, EntryInfos entries,
                                 Listener listener) {
        int ifd;
        try {
            ifd = Inotify.init1(Inotify.IN_CLOEXEC | Inotify.IN_NONBLOCK);
        } catch (NativeException e) {
            throw failure("cannot create an inotify instance for " + dir, e.errno());
        }
        int efd;
        try {
            efd = Libc.eventfd(0, Libc.EFD_CLOEXEC | Libc.EFD_NONBLOCK);
        } catch (NativeException e) {
            Libc.close(ifd);
            throw failure("cannot create an eventfd for watching " + dir, e.errno());
        }
        DirWatch w = new DirWatch(dir, recursive, includeEntry, entries, listener, ifd, efd);
        try {
            // The root may be a symlink to a directory: follow it (no IN_DONT_FOLLOW), unlike links inside.
            int wd = Inotify.addWatchRaw(ifd, dir.toString(), DIR_MASK);
            if (wd < 0) {
                throw failure("cannot watch " + dir, -wd);
            }
            w.dirs.put(wd, "");
            if (recursive) {
                w.addSubtree("", false);
            }
        } catch (RuntimeException e) {
            Libc.close(ifd);
            Libc.close(efd);
            throw e;
        }
        w.thread.start();
        return w;
    }

    /** Stops the watch; its thread releases the inotify watches and fds. Safe to call more than once. */
    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            try (Arena a = Arena.ofConfined()) {
                MemorySegment one = a.allocate(ValueLayout.JAVA_LONG);
                one.set(ValueLayout.JAVA_LONG, 0, 1L);
                Libc.writeRaw(wakeFd, one, 8);
            }
        }
    }

    /** Waits for the watch thread to end (tests, orderly shutdown). */
    public boolean awaitClosed(long millis) throws InterruptedException {
        if (Thread.currentThread() == thread) {
            return false;
        }
        thread.join(millis);
        return !thread.isAlive();
    }

    public Path root() {
        return root;
    }

    private void run() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment pollfds = arena.allocate(Libc.POLLFD, 2);
            long stride = Libc.POLLFD.byteSize();
            pollfds.set(ValueLayout.JAVA_INT, 0, inotifyFd);
            pollfds.set(ValueLayout.JAVA_SHORT, 4, Libc.POLLIN);
            pollfds.set(ValueLayout.JAVA_INT, stride, wakeFd);
            pollfds.set(ValueLayout.JAVA_SHORT, stride + 4, Libc.POLLIN);
            MemorySegment buf = arena.allocate(Inotify.EVENT_BUFFER_SIZE, 8);
            while (!closed.get()) {
                pollfds.set(ValueLayout.JAVA_SHORT, 6, (short) 0);
                pollfds.set(ValueLayout.JAVA_SHORT, stride + 6, (short) 0);
                int r = Libc.pollRaw(pollfds, 2, -1);
                if (r == -Errno.EINTR) {
                    continue;
                }
                if (r < 0) {
                    listener.onError(failure("poll on the inotify fd of " + root + " failed", -r));
                    return;
                }
                if (pollfds.get(ValueLayout.JAVA_SHORT, stride + 6) != 0 || closed.get()) {
                    return;
                }
                if (!drain(buf)) {
                    return;
                }
            }
        } catch (RuntimeException e) {
            if (!closed.get()) {
                listener.onError(new ConnectException(ConnectCode.INTERNAL, "watching " + root + " failed: " + e, e));
            }
        } finally {
            closed.set(true);
            Libc.close(inotifyFd);
            Libc.close(wakeFd);
        }
    }

    /** Reads every queued event; false when the watch has to end. */
    private boolean drain(MemorySegment buf) {
        while (true) {
            long n = Libc.readRaw(inotifyFd, buf, buf.byteSize());
            if (n == -Errno.EAGAIN) {
                return true;
            }
            if (n == -Errno.EINTR) {
                continue;
            }
            if (n <= 0) {
                listener.onError(failure("reading the inotify fd of " + root + " failed", (int) -n));
                return false;
            }
            for (long off = 0; off < n; off = Inotify.nextEvent(buf, off)) {
                if (closed.get()) {
                    return false;
                }
                if (!handle(Inotify.wd(buf, off), Inotify.mask(buf, off), Inotify.name(buf, off))) {
                    return false;
                }
            }
        }
    }

    private boolean handle(int wd, int mask, String name) {
        if ((mask & Inotify.IN_Q_OVERFLOW) != 0) {
            listener.onError(new ConnectException(ConnectCode.INTERNAL, "too many changes under " + root
                    + ": the inotify event queue overflowed and events were lost"));
            return false;
        }
        if ((mask & Inotify.IN_IGNORED) != 0) {
            dirs.remove(wd);
            return true;
        }
        String dir = dirs.get(wd);
        if (dir == null || name.isEmpty()) {
            // a watch already dropped, or an event on a watched directory itself (its parent reports it by name)
            return true;
        }
        String rel = dir.isEmpty() ? name : dir + "/" + name;
        boolean isDir = (mask & Inotify.IN_ISDIR) != 0;
        for (EventType type : types(mask)) {
            emit(rel, type);
        }
        if (recursive && isDir) {
            if ((mask & Inotify.IN_MOVED_FROM) != 0) {
                removeSubtree(rel);
            }
            if ((mask & (Inotify.IN_CREATE | Inotify.IN_MOVED_TO)) != 0) {
                addDirectory(rel);
            }
        }
        return true;
    }

    /** fsnotify's mapping of one inotify mask to event types, in upstream envd's order. */
    static List<EventType> types(int mask) {
        EnumSet<EventType> set = EnumSet.noneOf(EventType.class);
        if ((mask & (Inotify.IN_CREATE | Inotify.IN_MOVED_TO)) != 0) {
            set.add(EventType.EVENT_TYPE_CREATE);
        }
        if ((mask & Inotify.IN_MOVED_FROM) != 0) {
            set.add(EventType.EVENT_TYPE_RENAME);
        }
        if ((mask & Inotify.IN_ATTRIB) != 0) {
            set.add(EventType.EVENT_TYPE_CHMOD);
        }
        if ((mask & Inotify.IN_MODIFY) != 0) {
            set.add(EventType.EVENT_TYPE_WRITE);
        }
        if ((mask & Inotify.IN_DELETE) != 0) {
            set.add(EventType.EVENT_TYPE_REMOVE);
        }
        List<EventType> ordered = new ArrayList<>(set.size());
        for (EventType t : List.of(EventType.EVENT_TYPE_CREATE, EventType.EVENT_TYPE_RENAME,
                EventType.EVENT_TYPE_CHMOD, EventType.EVENT_TYPE_WRITE, EventType.EVENT_TYPE_REMOVE)) {
            if (set.contains(t)) {
                ordered.add(t);
            }
        }
        return ordered;
    }

    private void emit(String rel, EventType type) {
        FilesystemEvent.Builder e = FilesystemEvent.newBuilder().setName(rel).setType(type);
        if (includeEntry) {
            EntryInfo entry = entries.ofIfExists(root.resolve(rel));
            if (entry != null) {
                e.setEntry(entry);
            }
        }
        listener.onEvent(e.build());
    }

    /** A directory appeared in the tree: watch it and everything below, reporting what is already inside. */
    private void addDirectory(String rel) {
        int wd = Inotify.addWatchRaw(inotifyFd, root.resolve(rel).toString(), DIR_MASK | Inotify.IN_DONT_FOLLOW);
        if (wd < 0) {
            return; // gone again already, or not a directory any more (a link): nothing to watch
        }
        dirs.put(wd, rel);
        addSubtree(rel, true);
    }

    /** Watches every directory below {@code rel} (symlinks not followed); optionally reports entries as CREATE. */
    private void addSubtree(String rel, boolean reportExisting) {
        // Files.walk does not follow links, not even a symlinked root: walk the root's real path instead.
        Path base;
        try {
            base = rel.isEmpty() ? root.toRealPath() : root.resolve(rel);
        } catch (IOException e) {
            return;
        }
        List<Path> found = new ArrayList<>();
        try (Stream<Path> walk = Files.walk(base)) {
            walk.skip(1).forEach(found::add);
        } catch (IOException | UncheckedIOException e) {
            // A directory vanished or is unreadable while walking: watch what could be seen.
        }
        for (Path p : found) {
            String below = base.relativize(p).toString();
            String childRel = rel.isEmpty() ? below : rel + "/" + below;
            if (Files.isDirectory(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                int wd = Inotify.addWatchRaw(inotifyFd, p.toString(), DIR_MASK | Inotify.IN_DONT_FOLLOW);
                if (wd == -Errno.ENOSPC && !reportExisting) {
                    throw new ConnectException(ConnectCode.RESOURCE_EXHAUSTED, "cannot watch " + p
                            + ": the inotify watch limit (fs.inotify.max_user_watches) is reached");
                }
                if (wd >= 0) {
                    dirs.put(wd, childRel);
                }
            }
            if (reportExisting) {
                emit(childRel, EventType.EVENT_TYPE_CREATE);
            }
        }
    }

    private void removeSubtree(String rel) {
        String prefix = rel + "/";
        for (Iterator<Map.Entry<Integer, String>> it = dirs.entrySet().iterator(); it.hasNext(); ) {
            Map.Entry<Integer, String> e = it.next();
            if (e.getValue().equals(rel) || e.getValue().startsWith(prefix)) {
                Inotify.rmWatchRaw(inotifyFd, e.getKey());
                it.remove();
            }
        }
    }

    private static ConnectException failure(String what, int errno) {
        ConnectCode code = errno == Errno.ENOSPC || errno == Errno.EMFILE || errno == Errno.ENFILE
                ? ConnectCode.RESOURCE_EXHAUSTED : ConnectCode.INTERNAL;
        String hint = errno == Errno.ENOSPC ? " (fs.inotify.max_user_watches reached)"
                : errno == Errno.EMFILE ? " (fs.inotify.max_user_instances or the fd limit reached)" : "";
        return new ConnectException(code, what + ": " + Errno.name(errno) + " " + Errno.describe(errno) + hint);
    }
}
