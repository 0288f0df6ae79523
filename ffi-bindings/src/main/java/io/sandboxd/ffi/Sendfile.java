package io.sandboxd.ffi;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/**
 * {@code sendfile(2)} ({@code <sys/sendfile.h>}): file bytes to a socket inside the kernel, the socket taking
 * references to page-cache pages instead of a copy through user memory. The offset is passed by pointer; this
 * binding keeps one per thread.
 */
public final class Sendfile {
    private static final MethodHandle SENDFILE = Native.downcallErrno("sendfile",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, JAVA_INT, ADDRESS, JAVA_LONG));
    private static final ThreadLocal<MemorySegment> OFFSET =
            ThreadLocal.withInitial(() -> java.lang.foreign.Arena.ofAuto().allocate(JAVA_LONG));

    private Sendfile() {
    }

    /**
     * Sends up to {@code count} bytes of {@code inFd} from {@code offset} to {@code outFd}; returns the bytes sent
     * (0 at end of file, fewer than asked when the socket buffer filled or the file ended) or {@code -errno}.
     */
    public static long sendfileRaw(int outFd, int inFd, long offset, long count) {
        try {
            MemorySegment off = OFFSET.get();
            off.set(JAVA_LONG, 0, offset);
            MemorySegment err = Native.errnoBuffer();
            long n = (long) SENDFILE.invokeExact(err, outFd, inFd, off, count);
            return n < 0 ? -Native.errno(err) : n;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }
}
