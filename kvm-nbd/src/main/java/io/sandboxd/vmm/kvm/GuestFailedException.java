package io.sandboxd.vmm.kvm;

/**
 * A guest stopped in a way it cannot continue from (internal error, failed entry, shutdown, an exit nobody
 * handles). Fails that VM only; the message carries the exit and the vCPU state.
 */
public final class GuestFailedException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final transient VcpuExit exit;

    public GuestFailedException(int vcpu, VcpuExit exit) {
        super("vCPU " + vcpu + " stopped: " + exit);
        this.exit = exit;
    }

    public GuestFailedException(int vcpu, String what, Throwable cause) {
        super("vCPU " + vcpu + ": " + what + ": " + cause.getMessage(), cause);
        this.exit = null;
    }

    /** The exit that ended the guest, or null when the failure was on our side (a handler threw). */
    public VcpuExit exit() {
        return exit;
    }
}
