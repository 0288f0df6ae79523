package io.sandboxd.vmm.devices;

/**
 * A device's interrupt line into the guest (a GSI of the in-kernel PIC/IOAPIC). Implementations are an irqfd
 * (an eventfd KVM listens to) or a {@code KVM_IRQ_LINE} pulse; tests count calls. Callable from any thread.
 */
@FunctionalInterface
public interface InterruptLine {
    /** Raises an edge on the line: the guest's handler runs once for however many triggers came before it. */
    void trigger();
}
