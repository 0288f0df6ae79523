package io.sandboxd.vmm.machine;

import io.sandboxd.ffi.Libc;
import io.sandboxd.vmm.devices.InterruptLine;
import io.sandboxd.vmm.kvm.Vm;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * An interrupt line backed by an irqfd: an eventfd KVM listens to, so a device thread raises the guest interrupt
 * with one 8-byte write (no ioctl, no vCPU exit). The eventfd is this line's; {@link #close} unregisters it from
 * the VM (if still open) and closes it.
 */
final class IrqfdLine implements InterruptLine, AutoCloseable {
    private final Vm vm;
    private final int gsi;
    private final int eventFd;
    private final MemorySegment one;
    private final Arena arena = Arena.ofShared();
    private boolean closed;

    IrqfdLine(Vm vm, int gsi) {
        this.vm = vm;
        this.gsi = gsi;
        this.eventFd = Libc.eventfd(0, Libc.EFD_CLOEXEC | Libc.EFD_NONBLOCK);
        try {
            vm.irqfd(eventFd, gsi, true);
        } catch (RuntimeException e) {
            Libc.close(eventFd);
            arena.close();
            throw e;
        }
        one = arena.allocate(ValueLayout.JAVA_LONG);
        one.set(ValueLayout.JAVA_LONG, 0, 1L);
    }

    int gsi() {
        return gsi;
    }

    @Override
    public void trigger() {
        // EAGAIN (counter at its maximum) cannot happen in practice: KVM drains the counter on every signal.
        Libc.write(eventFd, one);
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            if (!vm.isClosed()) {
                vm.irqfd(eventFd, gsi, false);
            }
        } finally {
            Libc.close(eventFd);
            arena.close();
        }
    }
}
