package io.sandboxd.ffi;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;

/**
 * inotify(7): {@code inotify_init1}, {@code inotify_add_watch}, {@code inotify_rm_watch} and the
 * {@code struct inotify_event} records read from the inotify fd. Read the fd with {@link Libc#read} into a buffer of
 * at least {@link #EVENT_BUFFER_SIZE} bytes and walk it with {@link #nextEvent(MemorySegment, long)}.
 *
 * <p>Constants and the struct are checked against {@code <sys/inotify.h>} by {@code InotifyHeadersTest}.
 */
public final class Inotify {
    // <sys/inotify.h>: events
    public static final int IN_ACCESS = 0x00000001;
    public static final int IN_MODIFY = 0x00000002;
    public static final int IN_ATTRIB = 0x00000004;
    public static final int IN_CLOSE_WRITE = 0x00000008;
    public static final int IN_CLOSE_NOWRITE = 0x00000010;
    public static final int IN_OPEN = 0x00000020;
    public static final int IN_MOVED_FROM = 0x00000040;
    public static final int IN_MOVED_TO = 0x00000080;
    public static final int IN_CREATE = 0x00000100;
    public static final int IN_DELETE = 0x00000200;
    public static final int IN_DELETE_SELF = 0x00000400;
    public static final int IN_MOVE_SELF = 0x00000800;
    public static final int IN_CLOSE = IN_CLOSE_WRITE | IN_CLOSE_NOWRITE;
    public static final int IN_MOVE = IN_MOVED_FROM | IN_MOVED_TO;
    public static final int IN_ALL_EVENTS = 0x00000fff;
    // set by the kernel in inotify_event.mask
    public static final int IN_UNMOUNT = 0x00002000;
    public static final int IN_Q_OVERFLOW = 0x00004000;
    public static final int IN_IGNORED = 0x00008000;
    public static final int IN_ISDIR = 0x40000000;
    // inotify_add_watch flags
    public static final int IN_ONLYDIR = 0x01000000;
    public static final int IN_DONT_FOLLOW = 0x02000000;
    public static final int IN_EXCL_UNLINK = 0x04000000;
    public static final int IN_MASK_CREATE = 0x10000000;
    public static final int IN_MASK_ADD = 0x20000000;
    public static final int IN_ONESHOT = 0x80000000;
    // inotify_init1 flags
    public static final int IN_CLOEXEC = Libc.O_CLOEXEC;
    public static final int IN_NONBLOCK = Libc.O_NONBLOCK;

    /**
     * {@code struct inotify_event { int wd; uint32_t mask; uint32_t cookie; uint32_t len; char name[]; }}: the
     * flexible {@code name} member (NUL-padded to {@code len} bytes) starts at {@link #NAME_OFFSET}.
     */
    public static final StructLayout INOTIFY_EVENT = MemoryLayout.structLayout(
            JAVA_INT.withName("wd"),
            JAVA_INT.withName("mask"),
            JAVA_INT.withName("cookie"),
            JAVA_INT.withName("len")).withName("inotify_event");

    public static final long NAME_OFFSET = INOTIFY_EVENT.byteSize();
    private static final long WD = INOTIFY_EVENT.byteOffset(MemoryLayout.PathElement.groupElement("wd"));
    private static final long MASK = INOTIFY_EVENT.byteOffset(MemoryLayout.PathElement.groupElement("mask"));
    private static final long COOKIE = INOTIFY_EVENT.byteOffset(MemoryLayout.PathElement.groupElement("cookie"));
    private static final long LEN = INOTIFY_EVENT.byteOffset(MemoryLayout.PathElement.groupElement("len"));

    /** NAME_MAX (255) + 1 per event plus the header, times a batch: a read never fails with EINVAL for size. */
    public static final long EVENT_BUFFER_SIZE = 64 * (NAME_OFFSET + 256);

    private static final MethodHandle INOTIFY_INIT1 = Native.downcallErrno("inotify_init1",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle INOTIFY_ADD_WATCH = Native.downcallErrno("inotify_add_watch",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle INOTIFY_RM_WATCH = Native.downcallErrno("inotify_rm_watch",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));

    private Inotify() {
    }

    /** A new inotify instance; the caller owns the fd and closes it with {@link Libc#close(int)}. */
    public static int init1(int flags) {
        try {
            MemorySegment err = Native.errnoBuffer();
            int fd = (int) INOTIFY_INIT1.invokeExact(err, flags);
            if (fd < 0) {
                throw new NativeException("inotify_init1", Native.errno(err));
            }
            return fd;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** Adds (or updates) a watch on {@code path}; returns the watch descriptor. */
    public static int addWatch(int fd, String path, int mask) {
        int wd = addWatchRaw(fd, path, mask);
        if (wd < 0) {
            throw new NativeException("inotify_add_watch", -wd, path);
        }
        return wd;
    }

    /**
     * {@code inotify_add_watch} returning {@code -errno}: a recursive watcher races with directories vanishing
     * (ENOENT, ENOTDIR) and skips them without an exception.
     */
    public static int addWatchRaw(int fd, String path, int mask) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment err = Native.errnoBuffer();
            int wd = (int) INOTIFY_ADD_WATCH.invokeExact(err, fd, a.allocateFrom(path), mask);
            return wd < 0 ? -Native.errno(err) : wd;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    public static void rmWatch(int fd, int wd) {
        int r = rmWatchRaw(fd, wd);
        if (r < 0) {
            throw new NativeException("inotify_rm_watch", -r, "wd " + wd);
        }
    }

    /** {@code inotify_rm_watch} returning {@code -errno} (EINVAL when the kernel already dropped the watch). */
    public static int rmWatchRaw(int fd, int wd) {
        try {
            MemorySegment err = Native.errnoBuffer();
            int r = (int) INOTIFY_RM_WATCH.invokeExact(err, fd, wd);
            return r < 0 ? -Native.errno(err) : r;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    // ---- struct inotify_event accessors over a read buffer -----------------------------------------------------

    public static int wd(MemorySegment buf, long offset) {
        return buf.get(JAVA_INT, offset + WD);
    }

    public static int mask(MemorySegment buf, long offset) {
        return buf.get(JAVA_INT, offset + MASK);
    }

    public static int cookie(MemorySegment buf, long offset) {
        return buf.get(JAVA_INT, offset + COOKIE);
    }

    /** Length of the NUL-padded name area (0 for events on the watched object itself). */
    public static int len(MemorySegment buf, long offset) {
        return buf.get(JAVA_INT, offset + LEN);
    }

    /** The file name relative to the watched directory, or {@code ""} when the event has none. */
    public static String name(MemorySegment buf, long offset) {
        int len = len(buf, offset);
        if (len == 0) {
            return "";
        }
        return buf.asSlice(offset + NAME_OFFSET, len).getString(0);
    }

    /** Offset of the record after the one at {@code offset}. */
    public static long nextEvent(MemorySegment buf, long offset) {
        return offset + NAME_OFFSET + Integer.toUnsignedLong(len(buf, offset));
    }
}
