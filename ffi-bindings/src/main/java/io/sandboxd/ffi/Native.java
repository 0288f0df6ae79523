package io.sandboxd.ffi;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

/**
 * The one place that talks to {@link Linker}: looks up libc symbols, builds downcall handles (once, at class
 * initialisation of each binding class) and owns the per-thread errno capture buffer.
 *
 * <p>errno is captured per call into a buffer owned by the calling thread, never a shared static one: a daemon
 * has many threads failing calls at once.
 */
public final class Native {
    private static final Linker LINKER = Linker.nativeLinker();
    private static final SymbolLookup LIBC = LINKER.defaultLookup();
    private static final Linker.Option CAPTURE_ERRNO = Linker.Option.captureCallState("errno");
    private static final StructLayout CAPTURE_LAYOUT = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CAPTURE_LAYOUT.varHandle(MemoryLayout.PathElement.groupElement("errno"));

    // Scratch memory per thread; Arena.ofAuto is right here (a few bytes, freed with the thread), unlike for fds.
    private static final ThreadLocal<MemorySegment> ERRNO_BUFFER =
            ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(CAPTURE_LAYOUT));

    private Native() {
    }

    /**
     * The address of a libc function, for the rare API that takes a function pointer rather than calling it
     * (a signal handler that must be native code, see {@link Signals}).
     */
    public static MemorySegment symbol(String symbol) {
        return LIBC.find(symbol).orElseThrow(
                () -> new UnsatisfiedLinkError("libc has no symbol " + symbol + " (glibc too old?)"));
    }

    /** A plain downcall (no errno). */
    public static MethodHandle downcall(String symbol, FunctionDescriptor fd, Linker.Option... options) {
        MemorySegment addr = LIBC.find(symbol).orElseThrow(
                () -> new UnsatisfiedLinkError("libc has no symbol " + symbol + " (glibc too old?)"));
        return LINKER.downcallHandle(addr, fd, options);
    }

    /**
     * A downcall whose first parameter is the errno capture segment (pass {@link #errnoBuffer()}), read back with
     * {@link #errno(MemorySegment)} right after the call on the same thread.
     */
    public static MethodHandle downcallErrno(String symbol, FunctionDescriptor fd, Linker.Option... extra) {
        Linker.Option[] options = new Linker.Option[extra.length + 1];
        options[0] = CAPTURE_ERRNO;
        System.arraycopy(extra, 0, options, 1, extra.length);
        return downcall(symbol, fd, options);
    }

    /** Variadic C functions (ioctl, fcntl, syscall, open): arguments from {@code index} on are variadic. */
    public static Linker.Option firstVariadicArg(int index) {
        return Linker.Option.firstVariadicArg(index);
    }

    public static MemorySegment errnoBuffer() {
        return ERRNO_BUFFER.get();
    }

    public static int errno(MemorySegment buffer) {
        return (int) ERRNO.get(buffer, 0L);
    }

    /** The errno of the last capturing call made by this thread. */
    public static int lastErrno() {
        return errno(ERRNO_BUFFER.get());
    }

    /** Throws the typed exception for a failed call: {@code result < 0} means errno is set. */
    public static NativeException failure(String call) {
        return new NativeException(call, lastErrno());
    }

    static final ValueLayout.OfLong SIZE_T = ValueLayout.JAVA_LONG;

    /** Wraps Throwable from invokeExact (which only native linkage errors can produce) into an Error. */
    static AssertionError rethrow(Throwable t) {
        if (t instanceof RuntimeException re) {
            throw re;
        }
        if (t instanceof Error e) {
            throw e;
        }
        return new AssertionError("unexpected checked exception from a downcall", t);
    }
}
