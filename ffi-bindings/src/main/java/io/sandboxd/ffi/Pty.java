package io.sandboxd.ffi;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

/**
 * Pseudo-terminals: glibc's {@code posix_openpt}/{@code grantpt}/{@code unlockpt}/{@code ptsname_r} and the tty
 * ioctls a PTY user needs (window size, controlling terminal, pty number, opening the peer). Constants and
 * {@code struct winsize} are checked against {@code <sys/ioctl.h>} by {@code PtyHeadersTest}.
 */
public final class Pty {
    // <asm-generic/ioctls.h>. The classic tty requests predate the _IOC encoding, so they are plain numbers here;
    // the ones with an encoding are derived from it. All are pinned by the header test.
    public static final long TIOCGWINSZ = 0x5413;
    public static final long TIOCSWINSZ = 0x5414;
    public static final long TIOCSCTTY = 0x540E;
    public static final long TIOCGPTN = Ioctl.ior('T', 0x30, JAVA_INT.byteSize());
    public static final long TIOCGPTPEER = Ioctl.io('T', 0x41);

    /** {@code struct winsize { unsigned short ws_row, ws_col, ws_xpixel, ws_ypixel; }}. */
    public static final StructLayout WINSIZE = MemoryLayout.structLayout(
            JAVA_SHORT.withName("ws_row"),
            JAVA_SHORT.withName("ws_col"),
            JAVA_SHORT.withName("ws_xpixel"),
            JAVA_SHORT.withName("ws_ypixel")).withName("winsize");
    private static final VarHandle WS_ROW = field("ws_row");
    private static final VarHandle WS_COL = field("ws_col");
    private static final VarHandle WS_XPIXEL = field("ws_xpixel");
    private static final VarHandle WS_YPIXEL = field("ws_ypixel");

    /** Longest path ptsname_r can produce is "/dev/pts/" plus an int; generous so ERANGE never happens. */
    private static final int PTSNAME_MAX = 128;

    private static final MethodHandle POSIX_OPENPT = Native.downcallErrno("posix_openpt",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle GRANTPT = Native.downcallErrno("grantpt", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle UNLOCKPT = Native.downcallErrno("unlockpt", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle PTSNAME_R = Native.downcallErrno("ptsname_r",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_LONG));

    private Pty() {
    }

    /**
     * A new pseudo-terminal: the master fd (owned by this record; {@link #close()} closes it) and the path of its
     * slave, ready to be opened (granted and unlocked).
     */
    public record Pair(int masterFd, String slavePath) implements AutoCloseable {
        @Override
        public void close() {
            Libc.close(masterFd);
        }
    }

    /** A terminal's window size in characters and pixels ({@code struct winsize}). */
    public record WindowSize(int rows, int cols, int xPixels, int yPixels) {
        public WindowSize {
            checkUnsignedShort("rows", rows);
            checkUnsignedShort("cols", cols);
            checkUnsignedShort("xPixels", xPixels);
            checkUnsignedShort("yPixels", yPixels);
        }

        public WindowSize(int rows, int cols) {
            this(rows, cols, 0, 0);
        }
    }

    /**
     * Opens a master ({@code O_RDWR | O_NOCTTY | O_CLOEXEC}: it must not become the JVM's controlling terminal nor
     * leak into children), grants and unlocks its slave and returns both. The master is closed if a later step fails.
     */
    public static Pair openPty() {
        int master = posixOpenpt(Libc.O_RDWR | Libc.O_NOCTTY | Libc.O_CLOEXEC);
        try {
            grantpt(master);
            unlockpt(master);
            return new Pair(master, ptsname(master));
        } catch (RuntimeException e) {
            try {
                Libc.close(master);
            } catch (NativeException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
    }

    public static int posixOpenpt(int flags) {
        try {
            MemorySegment err = Native.errnoBuffer();
            int fd = (int) POSIX_OPENPT.invokeExact(err, flags);
            if (fd < 0) {
                throw new NativeException("posix_openpt", Native.errno(err));
            }
            return fd;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    public static void grantpt(int masterFd) {
        try {
            MemorySegment err = Native.errnoBuffer();
            if ((int) GRANTPT.invokeExact(err, masterFd) < 0) {
                throw new NativeException("grantpt", Native.errno(err));
            }
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    public static void unlockpt(int masterFd) {
        try {
            MemorySegment err = Native.errnoBuffer();
            if ((int) UNLOCKPT.invokeExact(err, masterFd) < 0) {
                throw new NativeException("unlockpt", Native.errno(err));
            }
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** The slave's path ({@code /dev/pts/N}), through the thread-safe {@code ptsname_r}. */
    public static String ptsname(int masterFd) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment err = Native.errnoBuffer();
            MemorySegment buf = a.allocate(PTSNAME_MAX);
            int r = (int) PTSNAME_R.invokeExact(err, masterFd, buf, (long) PTSNAME_MAX);
            if (r != 0) {
                // glibc returns the error number (and sets errno too); prefer the returned value.
                throw new NativeException("ptsname_r", r > 0 ? r : Native.errno(err));
            }
            return buf.getString(0);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** The pty number N of {@code /dev/pts/N} ({@code TIOCGPTN} on the master). */
    public static int ptyNumber(int masterFd) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment n = a.allocate(JAVA_INT);
            Libc.ioctl(masterFd, TIOCGPTN, n, "TIOCGPTN");
            return n.get(JAVA_INT, 0);
        }
    }

    /**
     * Opens the slave through the master ({@code TIOCGPTPEER}) instead of by path: immune to a different
     * {@code /dev/pts} being mounted where the caller runs (a sandbox's mount namespace).
     */
    public static int openPeer(int masterFd, int flags) {
        return Libc.ioctl(masterFd, TIOCGPTPEER, flags, "TIOCGPTPEER");
    }

    /** Makes the tty {@code fd} the controlling terminal of the calling process, which must be a session leader. */
    public static void setControllingTerminal(int fd) {
        Libc.ioctl(fd, TIOCSCTTY, 0L, "TIOCSCTTY");
    }

    /** {@code TIOCSWINSZ}: the foreground process group gets SIGWINCH. */
    public static void setWindowSize(int fd, WindowSize size) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment ws = a.allocate(WINSIZE);
            WS_ROW.set(ws, 0L, (short) size.rows());
            WS_COL.set(ws, 0L, (short) size.cols());
            WS_XPIXEL.set(ws, 0L, (short) size.xPixels());
            WS_YPIXEL.set(ws, 0L, (short) size.yPixels());
            Libc.ioctl(fd, TIOCSWINSZ, ws, "TIOCSWINSZ");
        }
    }

    public static WindowSize windowSize(int fd) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment ws = a.allocate(WINSIZE);
            Libc.ioctl(fd, TIOCGWINSZ, ws, "TIOCGWINSZ");
            return new WindowSize(
                    Short.toUnsignedInt((short) WS_ROW.get(ws, 0L)),
                    Short.toUnsignedInt((short) WS_COL.get(ws, 0L)),
                    Short.toUnsignedInt((short) WS_XPIXEL.get(ws, 0L)),
                    Short.toUnsignedInt((short) WS_YPIXEL.get(ws, 0L)));
        }
    }

    private static VarHandle field(String name) {
        return WINSIZE.varHandle(MemoryLayout.PathElement.groupElement(name));
    }

    private static void checkUnsignedShort(String what, int v) {
        if (v < 0 || v > 0xFFFF) {
            throw new IllegalArgumentException(what + " must be 0..65535, got " + v);
        }
    }
}
