package io.sandboxd.vmm.kvm;

import io.sandboxd.ffi.Kvm;
import java.util.Arrays;
import java.util.Objects;

/**
 * Everything KVM keeps about one vCPU, as plain data, in the order it is restored: CPUID ({@code kvm_cpuid2} with
 * its entries), MP state, general registers, special registers, XSAVE area (4 KiB, or the KVM_CAP_XSAVE2 size),
 * XCRs, debug registers, local APIC page, MSRs (index/value pairs) and pending events. Blobs are the C structs'
 * bytes.
 */
public record VcpuState(int id, byte[] cpuid, int mpState, byte[] regs, byte[] sregs, byte[] xsave, byte[] xcrs,
                        byte[] debugregs, byte[] lapic, int[] msrIndices, long[] msrValues, byte[] events) {
    public VcpuState {
        Objects.requireNonNull(cpuid, "cpuid");
        if (cpuid.length < Kvm.kvm_cpuid2.byteSize()
                || (cpuid.length - Kvm.kvm_cpuid2.byteSize()) % Kvm.kvm_cpuid_entry2.byteSize() != 0) {
            throw new IllegalArgumentException("vCPU state cpuid is not a kvm_cpuid2: " + cpuid.length + " bytes");
        }
        VmState.check("regs", regs, Kvm.kvm_regs.byteSize());
        VmState.check("sregs", sregs, Kvm.kvm_sregs.byteSize());
        Objects.requireNonNull(xsave, "xsave");
        if (xsave.length < Kvm.kvm_xsave.byteSize() || xsave.length % 4 != 0) {
            throw new IllegalArgumentException("vCPU state xsave must be at least 4096 bytes, got " + xsave.length);
        }
        VmState.check("xcrs", xcrs, Kvm.kvm_xcrs.byteSize());
        VmState.check("debugregs", debugregs, Kvm.kvm_debugregs.byteSize());
        VmState.check("lapic", lapic, Kvm.kvm_lapic_state.byteSize());
        VmState.check("events", events, Kvm.kvm_vcpu_events.byteSize());
        Objects.requireNonNull(msrIndices, "msrIndices");
        Objects.requireNonNull(msrValues, "msrValues");
        if (msrIndices.length != msrValues.length) {
            throw new IllegalArgumentException("vCPU state has " + msrIndices.length + " MSR indices but "
                    + msrValues.length + " values");
        }
    }

    public Regs generalRegisters() {
        return Regs.fromBytes(regs);
    }

    public Sregs specialRegisters() {
        return Sregs.fromBytes(sregs);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof VcpuState s && id == s.id && mpState == s.mpState && Arrays.equals(cpuid, s.cpuid)
                && Arrays.equals(regs, s.regs) && Arrays.equals(sregs, s.sregs) && Arrays.equals(xsave, s.xsave)
                && Arrays.equals(xcrs, s.xcrs) && Arrays.equals(debugregs, s.debugregs)
                && Arrays.equals(lapic, s.lapic) && Arrays.equals(msrIndices, s.msrIndices)
                && Arrays.equals(msrValues, s.msrValues) && Arrays.equals(events, s.events);
    }

    @Override
    public int hashCode() {
        return Objects.hash(id, mpState, Arrays.hashCode(regs), Arrays.hashCode(sregs), Arrays.hashCode(msrValues));
    }

    @Override
    public String toString() {
        return "VcpuState[id=" + id + ", mpState=" + mpState + ", " + generalRegisters() + ", msrs=" + msrIndices.length
                + ", xsave=" + xsave.length + " bytes]";
    }
}
