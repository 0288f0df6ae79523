package io.sandboxd.ffi;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/**
 * {@code prctl} ({@code <sys/prctl.h>}) and the options sandboxd uses: no-new-privs before running untrusted code,
 * a parent-death signal for helpers, the child-subreaper bit for envd as a process reaper, thread names.
 * Constants are checked against the headers by {@code PrctlHeadersTest}.
 *
 * <p>Most of these are per thread (name, no-new-privs, parent-death signal, ambient capabilities); the subreaper
 * and dumpable bits are per process.
 */
public final class Prctl {
    public static final int PR_SET_PDEATHSIG = 1;
    public static final int PR_GET_PDEATHSIG = 2;
    public static final int PR_GET_DUMPABLE = 3;
    public static final int PR_SET_DUMPABLE = 4;
    public static final int PR_SET_NAME = 15;
    public static final int PR_GET_NAME = 16;
    public static final int PR_CAPBSET_DROP = 24;
    public static final int PR_SET_CHILD_SUBREAPER = 36;
    public static final int PR_GET_CHILD_SUBREAPER = 37;
    public static final int PR_SET_NO_NEW_PRIVS = 38;
    public static final int PR_GET_NO_NEW_PRIVS = 39;
    public static final int PR_CAP_AMBIENT = 47;
    public static final int PR_CAP_AMBIENT_CLEAR_ALL = 4;

    /** The kernel's TASK_COMM_LEN (not exported in uapi headers): names are cut to 15 bytes plus NUL. */
    private static final int NAME_BUFFER = 16;

    // int prctl(int option, ...): glibc reads four unsigned longs after the option.
    private static final MethodHandle PRCTL = Native.downcallErrno("prctl",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG),
            Native.firstVariadicArg(1));

    private Prctl() {
    }

    /** {@code prctl(option, arg2, arg3, arg4, arg5)}; {@code name} is the option's name for the error message. */
    public static int prctl(int option, long arg2, long arg3, long arg4, long arg5, String name) {
        try {
            MemorySegment err = Native.errnoBuffer();
            int r = (int) PRCTL.invokeExact(err, option, arg2, arg3, arg4, arg5);
            if (r < 0) {
                throw new NativeException("prctl(" + name + ")", Native.errno(err));
            }
            return r;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** Irreversible for this thread and everything it execs: setuid bits and file capabilities stop granting. */
    public static void setNoNewPrivs() {
        prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0, "PR_SET_NO_NEW_PRIVS");
    }

    public static boolean noNewPrivs() {
        return prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0, "PR_GET_NO_NEW_PRIVS") == 1;
    }

    /** Signal this thread gets when its parent dies (0 clears it). */
    public static void setParentDeathSignal(int signal) {
        prctl(PR_SET_PDEATHSIG, signal, 0, 0, 0, "PR_SET_PDEATHSIG");
    }

    public static int parentDeathSignal() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment sig = a.allocate(JAVA_INT);
            prctl(PR_GET_PDEATHSIG, sig.address(), 0, 0, 0, "PR_GET_PDEATHSIG");
            return sig.get(JAVA_INT, 0);
        }
    }

    /** Orphaned descendants are re-parented to this process instead of init (per process). */
    public static void setChildSubreaper(boolean on) {
        prctl(PR_SET_CHILD_SUBREAPER, on ? 1 : 0, 0, 0, 0, "PR_SET_CHILD_SUBREAPER");
    }

    public static boolean isChildSubreaper() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment on = a.allocate(JAVA_INT);
            prctl(PR_GET_CHILD_SUBREAPER, on.address(), 0, 0, 0, "PR_GET_CHILD_SUBREAPER");
            return on.get(JAVA_INT, 0) != 0;
        }
    }

    /** Whether a crash of this process dumps core and who may ptrace it (per process; uid changes reset it). */
    public static boolean dumpable() {
        return prctl(PR_GET_DUMPABLE, 0, 0, 0, 0, "PR_GET_DUMPABLE") == 1;
    }

    public static void setDumpable(boolean on) {
        prctl(PR_SET_DUMPABLE, on ? 1 : 0, 0, 0, 0, "PR_SET_DUMPABLE");
    }

    /**
     * Empties the calling thread's ambient capability set: capabilities there survive an exec by a non-root
     * thread, so a thread that starts children as other users must have none.
     */
    public static void clearAmbientCapabilities() {
        prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0, "PR_CAP_AMBIENT_CLEAR_ALL");
    }

    /** Sets the calling thread's name (what {@code ps -L} and {@code /proc/.../comm} show); cut to 15 bytes. */
    public static void setName(String name) {
        try (Arena a = Arena.ofConfined()) {
            prctl(PR_SET_NAME, a.allocateFrom(name).address(), 0, 0, 0, "PR_SET_NAME");
        }
    }

    public static String name() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(NAME_BUFFER);
            prctl(PR_GET_NAME, buf.address(), 0, 0, 0, "PR_GET_NAME");
            return buf.getString(0);
        }
    }
}
