package io.sandboxd.vmm.arch.x86;

import io.sandboxd.ffi.Kvm;
import io.sandboxd.vmm.kvm.Vcpu;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The CPU state a firmware would leave for a Linux kernel, beyond registers: MSRs at their reset values (with
 * fast strings and write-back MTRR default), the x87/SSE control words, and the local APIC in virtual-wire mode
 * (LINT0 = ExtINT so the PIC's interrupts reach the CPU, LINT1 = NMI), which is how Linux finds it with no MP
 * table or ACPI.
 */
public final class BootCpuState {
    static final int MSR_IA32_TSC = 0x10;
    static final int MSR_IA32_SYSENTER_CS = 0x174;
    static final int MSR_IA32_SYSENTER_ESP = 0x175;
    static final int MSR_IA32_SYSENTER_EIP = 0x176;
    static final int MSR_IA32_MISC_ENABLE = 0x1a0;
    static final int MSR_MTRR_DEF_TYPE = 0x2ff;
    static final int MSR_STAR = 0xc000_0081;
    static final int MSR_LSTAR = 0xc000_0082;
    static final int MSR_CSTAR = 0xc000_0083;
    static final int MSR_SYSCALL_MASK = 0xc000_0084;
    static final int MSR_KERNEL_GS_BASE = 0xc000_0102;

    static final long MISC_ENABLE_FAST_STRING = 1;
    /** MTRRs enabled (bit 11), default type write-back (6). */
    static final long MTRR_DEF_TYPE_WB_ENABLED = (1L << 11) | 6;

    static final int APIC_LVT0 = 0x350;
    static final int APIC_LVT1 = 0x360;
    static final int APIC_MODE_EXTINT = 0x7 << 8;
    static final int APIC_MODE_NMI = 0x4 << 8;
    static final int APIC_DELIVERY_MODE_MASK = 0x7 << 8;

    static final long FPU_FCW = 0x37f;
    static final int MXCSR_DEFAULT = 0x1f80;

    private BootCpuState() {
    }

    private static long fpuOffset(String field) {
        return Kvm.kvm_fpu.byteOffset(MemoryLayout.PathElement.groupElement(field));
    }

    public static void apply(Vcpu vcpu) {
        int[] msrs = {MSR_IA32_SYSENTER_CS, MSR_IA32_SYSENTER_ESP, MSR_IA32_SYSENTER_EIP, MSR_STAR, MSR_LSTAR,
                MSR_CSTAR, MSR_SYSCALL_MASK, MSR_KERNEL_GS_BASE, MSR_IA32_TSC, MSR_IA32_MISC_ENABLE, MSR_MTRR_DEF_TYPE};
        long[] values = {0, 0, 0, 0, 0, 0, 0, 0, 0, MISC_ENABLE_FAST_STRING, MTRR_DEF_TYPE_WB_ENABLED};
        vcpu.setMsrs(msrs, values);

        byte[] fpu = vcpu.getFpu();
        MemorySegment f = MemorySegment.ofArray(fpu);
        f.set(ValueLayout.JAVA_SHORT_UNALIGNED, fpuOffset("fcw"), (short) FPU_FCW);
        f.set(ValueLayout.JAVA_INT_UNALIGNED, fpuOffset("mxcsr"), MXCSR_DEFAULT);
        vcpu.setFpu(fpu);

        byte[] lapic = vcpu.getLapic();
        MemorySegment l = MemorySegment.ofArray(lapic);
        l.set(ValueLayout.JAVA_INT_UNALIGNED, APIC_LVT0,
                (l.get(ValueLayout.JAVA_INT_UNALIGNED, APIC_LVT0) & ~APIC_DELIVERY_MODE_MASK) | APIC_MODE_EXTINT);
        l.set(ValueLayout.JAVA_INT_UNALIGNED, APIC_LVT1,
                (l.get(ValueLayout.JAVA_INT_UNALIGNED, APIC_LVT1) & ~APIC_DELIVERY_MODE_MASK) | APIC_MODE_NMI);
        vcpu.setLapic(lapic);
    }
}
