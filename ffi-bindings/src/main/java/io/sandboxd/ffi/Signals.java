package io.sandboxd.ffi;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;

/**
 * glibc signals, only as far as the VMM needs them to interrupt a thread blocked in {@code ioctl(KVM_RUN)}:
 * {@code sigaction} with a handler that is native code, the runtime value of {@code SIGRTMIN}, and {@code tgkill}.
 *
 * <p>A Java upcall must never be a signal handler: HotSpot aborts ("wrong thread state for upcall") when a signal
 * arrives on a thread that is in native code. Handlers installed through here are addresses of existing libc
 * functions ({@link #NO_OP_HANDLER}).
 */
public final class Signals {
    /** {@code SA_RESTART}: system calls other than KVM_RUN that the signal interrupts are restarted. */
    public static final int SA_RESTART = 0x10000000;
    /** {@code SYS_tgkill} on x86-64 (glibc 2.30+ also wraps it, older ones do not). */
    public static final long SYS_tgkill = 234;
    /** glibc's {@code sigset_t}: 1024 signal bits (the kernel uses the first 64). */
    public static final MemoryLayout SIGSET_T = MemoryLayout.sequenceLayout(128, JAVA_BYTE).withName("sigset_t");

    /** glibc's {@code struct sigaction} on x86-64 ({@code sa_handler} is a member of an anonymous union there). */
    public static final StructLayout SIGACTION = MemoryLayout.structLayout(
            ADDRESS.withName("sa_handler"),
            SIGSET_T.withName("sa_mask"),
            JAVA_INT.withName("sa_flags"),
            MemoryLayout.paddingLayout(4),
            ADDRESS.withName("sa_restorer")).withName("sigaction");

    /**
     * A native function usable as a {@code void (*)(int)} handler that does nothing observable: libc's
     * {@code abs(int)} only computes a return value in a register, touches no memory, makes no system call and is
     * async-signal-safe. The only point of the handler is that the signal is not ignored and not fatal, so its
     * delivery makes a blocking KVM_RUN return with EINTR.
     */
    public static final MemorySegment NO_OP_HANDLER = Native.symbol("abs");

    private static final MethodHandle SIGACTION_FN = Native.downcallErrno("sigaction",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS));
    private static final MethodHandle SIGRTMIN_FN = Native.downcall("__libc_current_sigrtmin",
            FunctionDescriptor.of(JAVA_INT));
    private static final MethodHandle SIGRTMAX_FN = Native.downcall("__libc_current_sigrtmax",
            FunctionDescriptor.of(JAVA_INT));

    private Signals() {
    }

    /** {@code SIGRTMIN} as glibc reports it at run time (glibc reserves the first kernel real-time signals). */
    public static int sigrtmin() {
        try {
            return (int) SIGRTMIN_FN.invokeExact();
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    public static int sigrtmax() {
        try {
            return (int) SIGRTMAX_FN.invokeExact();
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /**
     * Installs {@code handler} (a native function address) for {@code signal} with an empty mask and
     * {@code flags}; returns the handler that was installed before.
     */
    public static MemorySegment sigaction(int signal, MemorySegment handler, int flags) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment act = a.allocate(SIGACTION);
            MemorySegment old = a.allocate(SIGACTION);
            act.set(ADDRESS, SIGACTION.byteOffset(MemoryLayout.PathElement.groupElement("sa_handler")), handler);
            act.set(JAVA_INT, SIGACTION.byteOffset(MemoryLayout.PathElement.groupElement("sa_flags")), flags);
            MemorySegment err = Native.errnoBuffer();
            if ((int) SIGACTION_FN.invokeExact(err, signal, act, old) < 0) {
                throw new NativeException("sigaction", Native.errno(err), "signal " + signal);
            }
            return old.get(ADDRESS, SIGACTION.byteOffset(MemoryLayout.PathElement.groupElement("sa_handler")));
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** {@code tgkill(tgid, tid, signal)}; returns 0 or {@code -errno} (ESRCH when the thread has exited). */
    public static int tgkillRaw(int tgid, int tid, int signal) {
        return (int) Libc.syscallRaw(SYS_tgkill, tgid, tid, signal);
    }
}
