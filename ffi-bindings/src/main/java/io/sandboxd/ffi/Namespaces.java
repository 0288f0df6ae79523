package io.sandboxd.ffi;

import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/**
 * Linux namespaces ({@code <sched.h>}): {@code unshare} and {@code setns}. Constants are checked against the headers
 * by {@code NamespacesHeadersTest}.
 *
 * <p>In a JVM these act on the calling <em>thread</em>: the kernel keeps namespaces per task, so one platform
 * thread can enter a sandbox's netns (to create its tap, say) while every other thread stays put.
 * {@code CLONE_NEWNS} gives the thread its own copy of the mount table and of its root/cwd ({@code CLONE_FS} is
 * implied), so a throwaway thread can mount, and even {@code pivot_root}, without touching the host's view.
 * {@code CLONE_NEWUSER} fails with EINVAL in a multi-threaded process, and {@code CLONE_NEWPID}/
 * {@code CLONE_NEWTIME} only apply to children. Virtual threads are refused: the namespace would stick to whichever
 * carrier thread ran the call. A thread that moved should end, or move back with {@link #setns}, before it serves
 * anything else.
 */
public final class Namespaces {
    public static final int CLONE_NEWTIME = 0x00000080;
    public static final int CLONE_FS = 0x00000200;
    public static final int CLONE_FILES = 0x00000400;
    public static final int CLONE_NEWNS = 0x00020000;
    public static final int CLONE_SYSVSEM = 0x00040000;
    public static final int CLONE_NEWCGROUP = 0x02000000;
    public static final int CLONE_NEWUTS = 0x04000000;
    public static final int CLONE_NEWIPC = 0x08000000;
    public static final int CLONE_NEWUSER = 0x10000000;
    public static final int CLONE_NEWPID = 0x20000000;
    public static final int CLONE_NEWNET = 0x40000000;

    private static final MethodHandle UNSHARE = Native.downcallErrno("unshare", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle SETNS = Native.downcallErrno("setns",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));

    private Namespaces() {
    }

    /** Moves the calling thread into new namespaces of the {@code CLONE_*} kinds in {@code flags}. */
    public static void unshare(int flags) {
        requirePlatformThread("unshare");
        try {
            MemorySegment err = Native.errnoBuffer();
            if ((int) UNSHARE.invokeExact(err, flags) < 0) {
                throw new NativeException("unshare", Native.errno(err), "flags 0x" + Integer.toHexString(flags));
            }
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /**
     * Moves the calling thread into the namespace {@code fd} refers to (an open {@code /proc/<pid>/ns/<kind>} file
     * or a bind mount of one); {@code nstype} is its {@code CLONE_NEW*} kind, or 0 to accept any.
     */
    public static void setns(int fd, int nstype) {
        requirePlatformThread("setns");
        try {
            MemorySegment err = Native.errnoBuffer();
            if ((int) SETNS.invokeExact(err, fd, nstype) < 0) {
                throw new NativeException("setns", Native.errno(err), "nstype 0x" + Integer.toHexString(nstype));
            }
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    private static void requirePlatformThread(String call) {
        if (Thread.currentThread().isVirtual()) {
            throw new IllegalStateException(call + " on a virtual thread would move its carrier thread into the "
                    + "namespace; call it from a dedicated platform thread");
        }
    }
}
