package io.sandboxd.ffi;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/**
 * Mounts ({@code <sys/mount.h>}): {@code mount}, {@code umount2} and {@code pivot_root}, which glibc does not wrap
 * and is made through the raw {@code syscall}. Constants are checked against the headers by
 * {@code MountsHeadersTest}.
 *
 * <p>Mounts act on the mount namespace of the calling thread. JVM threads share the process's until one calls
 * {@code Namespaces.unshare(CLONE_NEWNS)}; do that (and make {@code /} recursively private, so nothing propagates
 * back) on a dedicated thread before mounting anything that is not meant for the host.
 */
public final class Mounts {
    public static final long MS_RDONLY = 1;
    public static final long MS_NOSUID = 2;
    public static final long MS_NODEV = 4;
    public static final long MS_NOEXEC = 8;
    public static final long MS_REMOUNT = 32;
    public static final long MS_NOATIME = 1024;
    public static final long MS_BIND = 4096;
    public static final long MS_MOVE = 8192;
    public static final long MS_REC = 16384;
    public static final long MS_UNBINDABLE = 1 << 17;
    public static final long MS_PRIVATE = 1 << 18;
    public static final long MS_SLAVE = 1 << 19;
    public static final long MS_SHARED = 1 << 20;
    public static final long MS_RELATIME = 1 << 21;

    public static final int MNT_FORCE = 1;
    public static final int MNT_DETACH = 2;
    public static final int MNT_EXPIRE = 4;
    public static final int UMOUNT_NOFOLLOW = 8;

    /** {@code <sys/syscall.h>}: pivot_root has no glibc wrapper. */
    public static final long SYS_pivot_root = 155;

    private static final MethodHandle MOUNT = Native.downcallErrno("mount",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, ADDRESS));
    private static final MethodHandle UMOUNT2 = Native.downcallErrno("umount2",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));

    private Mounts() {
    }

    /**
     * {@code mount(source, target, fstype, flags, data)}; {@code source}, {@code fstype} and {@code data} may be
     * null where the kernel ignores them (a remount, a propagation change, a bind).
     */
    public static void mount(String source, String target, String fstype, long flags, String data) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment err = Native.errnoBuffer();
            int r = (int) MOUNT.invokeExact(err, string(a, source), a.allocateFrom(target), string(a, fstype), flags,
                    string(a, data));
            if (r < 0) {
                throw new NativeException("mount", Native.errno(err),
                        (fstype == null ? "" : fstype + " ") + (source == null ? "" : source + " on ") + target);
            }
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    public static void umount2(String target, int flags) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment err = Native.errnoBuffer();
            if ((int) UMOUNT2.invokeExact(err, a.allocateFrom(target), flags) < 0) {
                throw new NativeException("umount2", Native.errno(err), target);
            }
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /**
     * {@code pivot_root(newRoot, putOld)}: makes {@code newRoot} (a mount point) the root of the calling process's
     * mount namespace and moves the old root to {@code putOld} (under {@code newRoot}). Only ever call this in a
     * private mount namespace.
     */
    public static void pivotRoot(String newRoot, String putOld) {
        try (Arena a = Arena.ofConfined()) {
            long r = Libc.syscallRaw(SYS_pivot_root, a.allocateFrom(newRoot).address(), a.allocateFrom(putOld).address(), 0);
            if (r < 0) {
                throw new NativeException("pivot_root", (int) -r, newRoot + ", " + putOld);
            }
        }
    }

    private static MemorySegment string(Arena a, String s) {
        return s == null ? MemorySegment.NULL : a.allocateFrom(s);
    }
}
