package io.sandboxd.ffi;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * errno values we branch on, and their names and messages.
 *
 * <p>Names and texts come from glibc's thread-safe {@code strerrorname_np}/{@code strerrordesc_np} (glibc 2.32+),
 * never from the racy {@code strerror}. The constants are checked against {@code <errno.h>} by the header test.
 */
public final class Errno {
    public static final int EPERM = 1;
    public static final int ENOENT = 2;
    public static final int ESRCH = 3;
    public static final int EINTR = 4;
    public static final int EIO = 5;
    public static final int ENXIO = 6;
    public static final int E2BIG = 7;
    public static final int EBADF = 9;
    public static final int ECHILD = 10;
    public static final int EAGAIN = 11;
    public static final int ENOMEM = 12;
    public static final int EACCES = 13;
    public static final int EFAULT = 14;
    public static final int EBUSY = 16;
    public static final int EEXIST = 17;
    public static final int ENODEV = 19;
    public static final int ENOTDIR = 20;
    public static final int EISDIR = 21;
    public static final int EINVAL = 22;
    public static final int ENFILE = 23;
    public static final int EMFILE = 24;
    public static final int ENOTTY = 25;
    public static final int EFBIG = 27;
    public static final int ENOSPC = 28;
    public static final int ESPIPE = 29;
    public static final int EROFS = 30;
    public static final int EPIPE = 32;
    public static final int ERANGE = 34;
    public static final int ENOSYS = 38;
    public static final int ENOTEMPTY = 39;
    public static final int ELOOP = 40;
    public static final int ENODATA = 61;
    public static final int EOVERFLOW = 75;
    public static final int EOPNOTSUPP = 95;
    public static final int EADDRINUSE = 98;
    public static final int ECONNRESET = 104;
    public static final int ETIMEDOUT = 110;
    public static final int ECONNREFUSED = 111;

    private static final MethodHandle STRERRORNAME_NP =
            Native.downcall("strerrorname_np", FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
    private static final MethodHandle STRERRORDESC_NP =
            Native.downcall("strerrordesc_np", FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.JAVA_INT));

    private Errno() {
    }

    /** The symbolic name ({@code "ENOENT"}), or {@code "errno <n>"} for a value libc does not know. */
    public static String name(int errno) {
        String s = staticString(STRERRORNAME_NP, errno);
        return s == null ? "errno " + errno : s;
    }

    /** libc's message for the errno ({@code "No such file or directory"}). */
    public static String describe(int errno) {
        String s = staticString(STRERRORDESC_NP, errno);
        return s == null ? "unknown error" : s;
    }

    private static String staticString(MethodHandle h, int errno) {
        try {
            MemorySegment p = (MemorySegment) h.invokeExact(errno);
            if (p.equals(MemorySegment.NULL)) {
                return null;
            }
            // A pointer into libc's read-only string table: valid for the life of the process.
            return p.reinterpret(256).getString(0);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }
}
