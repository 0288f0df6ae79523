package io.sandboxd.ffi;

/**
 * A failed native call: names the function and the errno it left behind.
 *
 * <p>The message reads like Netty's {@code Errors}: {@code "ioctl(KVM_RUN) failed: EINTR (errno 4, Interrupted system call)"},
 * so a log line alone says which call failed and why.
 */
public final class NativeException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final String call;
    private final int errno;

    public NativeException(String call, int errno) {
        this(call, errno, null);
    }

    public NativeException(String call, int errno, String detail) {
        super(call + " failed: " + Errno.name(errno) + " (errno " + errno + ", " + Errno.describe(errno) + ")"
                + (detail == null ? "" : ": " + detail));
        this.call = call;
        this.errno = errno;
    }

    /** The native function (and, for ioctls, the request name) that failed. */
    public String call() {
        return call;
    }

    public int errno() {
        return errno;
    }

    public String errnoName() {
        return Errno.name(errno);
    }

    public boolean is(int expectedErrno) {
        return errno == expectedErrno;
    }
}
