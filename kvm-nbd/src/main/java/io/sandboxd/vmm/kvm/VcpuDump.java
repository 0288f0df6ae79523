package io.sandboxd.vmm.kvm;

/** General and special registers of a vCPU at a failure, for the error message. */
public record VcpuDump(Regs regs, Sregs sregs) {
    @Override
    public String toString() {
        return regs + " " + sregs.summary();
    }
}
