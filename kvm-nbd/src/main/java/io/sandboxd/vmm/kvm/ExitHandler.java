package io.sandboxd.vmm.kvm;

/**
 * What a vCPU run loop does with each exit (devices live behind this). Called on the vCPU thread; must not block
 * for long. {@link VcpuExit.Interrupted} never reaches it (the loop handles kicks itself).
 */
@FunctionalInterface
public interface ExitHandler {
    /**
     * What the loop does after an exit: go on, park the vCPU (as {@link VcpuThread#pause} would, until
     * {@link VcpuThread#resume}; e.g. a device that wants the machine snapshotted at this point), or end.
     */
    enum Action { CONTINUE, PAUSE, STOP }

    Action onExit(Vcpu vcpu, VcpuExit exit);

    /** For exits a handler does not know: ends this VM's run with the exit and the vCPU state in the message. */
    static Action unexpected(Vcpu vcpu, VcpuExit exit) {
        throw new GuestFailedException(vcpu.id(), exit);
    }
}
