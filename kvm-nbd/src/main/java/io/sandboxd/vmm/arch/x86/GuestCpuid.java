package io.sandboxd.vmm.arch.x86;

import io.sandboxd.ffi.Kvm;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

/**
 * The CPUID table a Linux guest of ours sees: what this host's KVM supports ({@code KVM_GET_SUPPORTED_CPUID}),
 * minus the features a guest must not use here, plus the hypervisor bit, the vCPU's APIC id and KVM's paravirt
 * leaves limited to the clock.
 *
 * <p>Why the masks: on PVM hosts a guest that is not PVM-enabled runs in KVM's instruction emulator, which has no
 * {@code cmpxchg16b}, {@code xsave}/{@code xrstor}, {@code popcnt}, {@code clac}/{@code stac}, FS/GS-base
 * instructions, AVX or other vector extensions; a kernel that is told a feature exists patches it in and then
 * faults. The same masks cost nothing on hardware KVM for the small guests we run (the kernel falls back to the
 * baseline x86-64 paths) and keep snapshots portable between hosts of different CPU generations. Paravirt
 * features other than kvm-clock (async page faults, steal time, PV EOI, PV unhalt...) each add guest-registered
 * MSR state a snapshot would have to carry; we offer none of them.
 */
public final class GuestCpuid {
    private static final long ENTRY = Kvm.kvm_cpuid_entry2.byteSize();
    private static final long HEADER = Kvm.kvm_cpuid2.byteSize();
    private static final long FUNCTION = off("function");
    private static final long INDEX = off("index");
    private static final long EAX = off("eax");
    private static final long EBX = off("ebx");
    private static final long ECX = off("ecx");
    private static final long EDX = off("edx");

    // leaf 1 ECX
    static final int L1_ECX_CX16 = 1 << 13;
    static final int L1_ECX_X2APIC = 1 << 21;
    static final int L1_ECX_MOVBE = 1 << 22;
    static final int L1_ECX_POPCNT = 1 << 23;
    static final int L1_ECX_TSC_DEADLINE = 1 << 24;
    static final int L1_ECX_AES = 1 << 25;
    static final int L1_ECX_XSAVE = 1 << 26;
    static final int L1_ECX_OSXSAVE = 1 << 27;
    static final int L1_ECX_AVX = 1 << 28;
    static final int L1_ECX_F16C = 1 << 29;
    static final int L1_ECX_RDRAND = 1 << 30;
    static final int L1_ECX_HYPERVISOR = 1 << 31;
    static final int L1_ECX_FMA = 1 << 12;
    static final int L1_ECX_PCID = 1 << 17;
    static final int L1_ECX_SSE41 = 1 << 19;
    static final int L1_ECX_SSE42 = 1 << 20;
    static final int L1_ECX_PCLMUL = 1 << 1;
    static final int L1_ECX_MONITOR = 1 << 3;
    static final int L1_ECX_VMX = 1 << 5;
    static final int L1_ECX_SMX = 1 << 6;
    static final int L1_ECX_SSSE3 = 1 << 9;
    static final int L1_ECX_PDCM = 1 << 15;
    static final int L1_ECX_DCA = 1 << 18;

    static final int L1_ECX_HIDDEN = L1_ECX_CX16 | L1_ECX_MOVBE | L1_ECX_POPCNT | L1_ECX_AES | L1_ECX_XSAVE
            | L1_ECX_OSXSAVE | L1_ECX_AVX | L1_ECX_F16C | L1_ECX_RDRAND | L1_ECX_FMA | L1_ECX_PCID | L1_ECX_SSE41
            | L1_ECX_SSE42 | L1_ECX_PCLMUL | L1_ECX_MONITOR | L1_ECX_VMX | L1_ECX_SMX | L1_ECX_SSSE3 | L1_ECX_PDCM
            | L1_ECX_DCA;
    // leaf 7.0 EBX: keep only SMEP (7) and ERMS (9): neither is an instruction the emulator lacks.
    static final int L7_EBX_KEPT = (1 << 7) | (1 << 9);
    // leaf 7.0 ECX/EDX: nothing (PKU, LA57, RDPID, vector extensions, speculation controls).
    // 0x80000001 ECX: keep LAHF/SAHF (0); hide LZCNT/ABM (5), SSE4A, PREFETCHW, XOP, FMA4, TBM, ...
    static final int LX1_ECX_KEPT = 1;
    // 0x80000001 EDX: hide RDTSCP (27) and 1 GiB pages (26: page-walk differences we do not need).
    static final int LX1_EDX_HIDDEN = (1 << 27) | (1 << 26);

    static final int KVM_SIGNATURE_LEAF = 0x4000_0000;
    static final int KVM_FEATURES_LEAF = 0x4000_0001;
    static final int KVM_FEATURE_CLOCKSOURCE = 1;
    static final int KVM_FEATURE_NOP_IO_DELAY = 1 << 1;
    static final int KVM_FEATURE_CLOCKSOURCE2 = 1 << 3;
    static final int KVM_FEATURE_CLOCKSOURCE_STABLE_BIT = 1 << 24;
    static final int KVM_FEATURES_KEPT = KVM_FEATURE_CLOCKSOURCE | KVM_FEATURE_NOP_IO_DELAY | KVM_FEATURE_CLOCKSOURCE2
            | KVM_FEATURE_CLOCKSOURCE_STABLE_BIT;

    private GuestCpuid() {
    }

    /**
     * The {@code kvm_cpuid2} bytes for vCPU {@code apicId}, from the host's supported table. Leaves the guest
     * must not see (XSAVE state components, 0xd) are dropped; the rest is masked as described above.
     */
    public static byte[] forVcpu(byte[] supported, int apicId, int vcpuCount) {
        MemorySegment in = MemorySegment.ofArray(supported);
        int n = in.get(ValueLayout.JAVA_INT_UNALIGNED, 0);
        if (HEADER + n * ENTRY > supported.length) {
            throw new IllegalArgumentException("kvm_cpuid2 says " + n + " entries in " + supported.length + " bytes");
        }
        byte[] out = new byte[supported.length];
        MemorySegment o = MemorySegment.ofArray(out);
        int kept = 0;
        for (int i = 0; i < n; i++) {
            MemorySegment e = in.asSlice(HEADER + i * ENTRY, ENTRY);
            int function = e.get(ValueLayout.JAVA_INT_UNALIGNED, FUNCTION);
            if (function == 0xd || function == 0x14 || function == 0x12) { // XSAVE components, PT, SGX
                continue;
            }
            MemorySegment t = o.asSlice(HEADER + kept * ENTRY, ENTRY);
            MemorySegment.copy(e, 0, t, 0, ENTRY);
            mask(t, function, e.get(ValueLayout.JAVA_INT_UNALIGNED, INDEX), apicId, vcpuCount);
            kept++;
        }
        o.set(ValueLayout.JAVA_INT_UNALIGNED, 0, kept);
        return Arrays.copyOf(out, (int) (HEADER + kept * ENTRY));
    }

    private static void mask(MemorySegment e, int function, int index, int apicId, int vcpuCount) {
        switch (function) {
            case 1 -> {
                and(e, ECX, ~L1_ECX_HIDDEN);
                or(e, ECX, L1_ECX_HYPERVISOR);
                // EBX: initial APIC id (31-24), logical processor count (23-16), CLFLUSH line size (15-8).
                int ebx = get(e, EBX) & 0x0000_ffff;
                set(e, EBX, ebx | (apicId << 24) | (Math.min(vcpuCount, 255) << 16));
            }
            case 7 -> {
                if (index == 0) {
                    set(e, EAX, 0); // no further sub-leaves
                    and(e, EBX, L7_EBX_KEPT);
                } else {
                    set(e, EBX, 0);
                    set(e, EAX, 0);
                }
                set(e, ECX, 0);
                set(e, EDX, 0);
            }
            case 0xb, 0x1f -> set(e, EDX, apicId); // x2APIC id of this vCPU
            case 0x8000_0001 -> {
                and(e, ECX, LX1_ECX_KEPT);
                and(e, EDX, ~LX1_EDX_HIDDEN);
            }
            case KVM_SIGNATURE_LEAF -> {
                set(e, EAX, KVM_FEATURES_LEAF);
                set(e, EBX, 0x4b4d_564b); // "KVMK"
                set(e, ECX, 0x564b_4d56); // "VMKV"
                set(e, EDX, 0x0000_004d); // "M\0\0\0"
            }
            case KVM_FEATURES_LEAF -> {
                and(e, EAX, KVM_FEATURES_KEPT);
                set(e, EDX, 0);
            }
            default -> {
            }
        }
    }

    /** The value of one register of leaf {@code function}/{@code index} in a kvm_cpuid2 table, or -1 if absent. */
    public static long register(byte[] cpuid2, int function, int index, char reg) {
        MemorySegment in = MemorySegment.ofArray(cpuid2);
        int n = in.get(ValueLayout.JAVA_INT_UNALIGNED, 0);
        for (int i = 0; i < n; i++) {
            MemorySegment e = in.asSlice(HEADER + i * ENTRY, ENTRY);
            if (get(e, FUNCTION) == function && get(e, INDEX) == index) {
                long off = switch (reg) {
                    case 'a' -> EAX;
                    case 'b' -> EBX;
                    case 'c' -> ECX;
                    case 'd' -> EDX;
                    default -> throw new IllegalArgumentException("register a, b, c or d, not " + reg);
                };
                return Integer.toUnsignedLong(get(e, off));
            }
        }
        return -1;
    }

    private static int get(MemorySegment e, long off) {
        return e.get(ValueLayout.JAVA_INT_UNALIGNED, off);
    }

    private static void set(MemorySegment e, long off, int v) {
        e.set(ValueLayout.JAVA_INT_UNALIGNED, off, v);
    }

    private static void and(MemorySegment e, long off, int mask) {
        set(e, off, get(e, off) & mask);
    }

    private static void or(MemorySegment e, long off, int bits) {
        set(e, off, get(e, off) | bits);
    }

    private static long off(String field) {
        return Kvm.kvm_cpuid_entry2.byteOffset(MemoryLayout.PathElement.groupElement(field));
    }
}
