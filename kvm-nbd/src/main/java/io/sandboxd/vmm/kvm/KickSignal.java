package io.sandboxd.vmm.kvm;

import io.sandboxd.ffi.Signals;
import java.lang.foreign.MemorySegment;

/**
 * The real-time signal that knocks a vCPU thread out of {@code ioctl(KVM_RUN)}.
 *
 * <p>Why a handler and not a signal mask: of the two ways to make a signal interrupt KVM_RUN without running Java
 * code, (a) a native handler that does nothing and (b) blocking the signal and letting KVM_SET_SIGNAL_MASK unblock
 * it only inside KVM_RUN (then draining it with sigtimedwait), (a) needs no per-thread set-up, no draining and
 * survives a stray or late signal: with (b) a signal that arrives after the vCPU thread has gone, or at a thread
 * that never blocked it, takes the default action, which for a real-time signal kills the JVM. The handler is
 * libc's {@code abs}, see {@link Signals#NO_OP_HANDLER}; an FFM upcall would abort HotSpot.
 *
 * <p>Why this number: HotSpot uses SIGSEGV/SIGBUS/SIGILL/SIGFPE/SIGTRAP/SIGPIPE/SIGXFSZ, SIGQUIT, SIGUSR2 (its
 * suspend/resume signal) and the termination signals, never real-time ones; glibc reserves the two below SIGRTMIN.
 * We take SIGRTMIN+6, leaving the first few for anything else in the process that picks "SIGRTMIN+n" naively,
 * and refuse to install over a handler someone else put there. SA_RESTART keeps the signal from failing other
 * system calls of the vCPU thread with EINTR (KVM_RUN itself always returns EINTR).
 */
final class KickSignal {
    private static final int OFFSET_FROM_SIGRTMIN = 6;
    private static volatile int number;

    private KickSignal() {
    }

    /** The signal number, installing the handler on first use. */
    static int number() {
        int n = number;
        if (n == 0) {
            n = install();
        }
        return n;
    }

    private static synchronized int install() {
        if (number != 0) {
            return number;
        }
        int sig = Signals.sigrtmin() + OFFSET_FROM_SIGRTMIN;
        if (sig > Signals.sigrtmax()) {
            throw new IllegalStateException("no real-time signal SIGRTMIN+" + OFFSET_FROM_SIGRTMIN + " on this system");
        }
        MemorySegment previous = Signals.sigaction(sig, Signals.NO_OP_HANDLER, Signals.SA_RESTART);
        if (previous.address() != 0 && previous.address() != Signals.NO_OP_HANDLER.address()) {
            // Someone else owns this signal: put theirs back rather than break it.
            Signals.sigaction(sig, previous, Signals.SA_RESTART);
            throw new IllegalStateException("signal " + sig + " (SIGRTMIN+" + OFFSET_FROM_SIGRTMIN
                    + ") already has a handler at 0x" + Long.toHexString(previous.address())
                    + "; sandboxd needs it to stop vCPUs");
        }
        number = sig;
        return sig;
    }
}
