package io.sandboxd.vmm.arch.x86;

import io.sandboxd.vmm.kvm.Regs;
import io.sandboxd.vmm.kvm.Sregs;
import io.sandboxd.vmm.kvm.Sregs.Segment;
import io.sandboxd.vmm.kvm.Vcpu;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Puts a freshly created vCPU into real mode or 64-bit long mode at a given entry point, building what long mode
 * needs in guest memory: a GDT with a flat 64-bit code and a data segment, and identity-mapped 4-level page tables
 * (2 MiB pages) for the first 1 GiB.
 *
 * <p>Guest-physical layout (the low pages every x86 loader leaves free):
 * <pre>
 *   0x0500  GDT: null, code64 (selector 0x08), data (selector 0x10)
 *   0x9000  PML4  -> 0xa000
 *   0xa000  PDPT  -> 0xb000
 *   0xb000  PD    512 x 2 MiB pages = 0..1 GiB, identity
 * </pre>
 */
public final class X86Modes {
    public static final long GDT_ADDRESS = 0x500;
    public static final long PML4_ADDRESS = 0x9000;
    public static final long PDPT_ADDRESS = 0xa000;
    public static final long PD_ADDRESS = 0xb000;
    /** The first guest-physical address the set-up leaves alone. */
    public static final long FIRST_FREE_ADDRESS = 0xc000;
    public static final int CODE64_SELECTOR = 0x08;
    public static final int DATA_SELECTOR = 0x10;
    public static final int LINUX_BOOT_CS = 0x10;
    public static final int LINUX_BOOT_DS = 0x18;
    public static final long IDENTITY_MAPPED_BYTES = 1L << 30;

    static final long CR0_PE = 1L;
    static final long CR0_ET = 1L << 4;
    static final long CR0_PG = 1L << 31;
    static final long CR4_PAE = 1L << 5;
    static final long CR4_OSFXSR = 1L << 9;
    static final long CR4_OSXMMEXCPT = 1L << 10;
    static final long EFER_LME = 1L << 8;
    static final long EFER_LMA = 1L << 10;
    private static final long PTE_PRESENT = 1;
    private static final long PTE_WRITABLE = 2;
    private static final long PDE_2MIB_PAGE = 1L << 7;

    // GDT descriptors: base 0, limit 0xfffff in 4 KiB units; access 0x9a = present, ring 0, code, readable;
    // 0x92 = present, ring 0, data, writable; flags 0xa = G + L (64-bit code), 0xc = G + D/B (32-bit data).
    private static final long GDT_CODE64 = 0x00af_9a00_0000_ffffL;
    private static final long GDT_DATA = 0x00cf_9200_0000_ffffL;

    private X86Modes() {
    }

    /** Real mode at {@code 0000:entry} (entry below 64 KiB), flat segments with base 0. */
    public static void realMode(Vcpu vcpu, int entry, Regs regs) {
        if (entry < 0 || entry > 0xffff) {
            throw new IllegalArgumentException("real-mode entry must be below 64 KiB: 0x" + Integer.toHexString(entry));
        }
        Sregs sregs = vcpu.getSregs();
        Segment real = new Segment(0, 0xffff, 0, 0x3, true, 0, false, true, false, false, false, false);
        for (String s : new String[] {"ds", "es", "fs", "gs", "ss"}) {
            sregs.segment(s, real);
        }
        sregs.segment("cs", new Segment(0, 0xffff, 0, 0xb, true, 0, false, true, false, false, false, false));
        vcpu.setSregs(sregs);
        vcpu.setRegs(regs.set("rip", entry));
    }

    /**
     * Long mode at {@code entry} with stack {@code rsp}: writes the GDT and page tables into {@code lowMemory}
     * (the host view of guest-physical 0..) and loads CR0/CR3/CR4/EFER and the segments.
     */
    public static void longMode(Vcpu vcpu, MemorySegment lowMemory, long entry, long rsp, Regs regs) {
        longMode(vcpu, lowMemory, entry, rsp, regs, CODE64_SELECTOR, DATA_SELECTOR);
    }

    /**
     * Long mode as Linux's 64-bit boot protocol wants it: flat segments {@code __BOOT_CS} = 0x10 and
     * {@code __BOOT_DS} = 0x18 in the GDT, the first 1 GiB identity mapped, interrupts off.
     */
    public static void linuxLongMode(Vcpu vcpu, MemorySegment lowMemory, long entry, long rsp, Regs regs) {
        longMode(vcpu, lowMemory, entry, rsp, regs, LINUX_BOOT_CS, LINUX_BOOT_DS);
    }

    private static void longMode(Vcpu vcpu, MemorySegment lowMemory, long entry, long rsp, Regs regs, int code,
            int data) {
        if (lowMemory.byteSize() < FIRST_FREE_ADDRESS) {
            throw new IllegalArgumentException("long mode set-up needs guest memory at 0.." + FIRST_FREE_ADDRESS);
        }
        int entries = Math.max(code, data) / 8 + 1;
        lowMemory.asSlice(GDT_ADDRESS, entries * 8L).fill((byte) 0);
        lowMemory.set(ValueLayout.JAVA_LONG, GDT_ADDRESS + code, GDT_CODE64);
        lowMemory.set(ValueLayout.JAVA_LONG, GDT_ADDRESS + data, GDT_DATA);
        lowMemory.asSlice(PML4_ADDRESS, 3 * 4096).fill((byte) 0);
        lowMemory.set(ValueLayout.JAVA_LONG, PML4_ADDRESS, PDPT_ADDRESS | PTE_PRESENT | PTE_WRITABLE);
        lowMemory.set(ValueLayout.JAVA_LONG, PDPT_ADDRESS, PD_ADDRESS | PTE_PRESENT | PTE_WRITABLE);
        for (long i = 0; i < 512; i++) {
            lowMemory.set(ValueLayout.JAVA_LONG, PD_ADDRESS + 8 * i,
                    (i << 21) | PTE_PRESENT | PTE_WRITABLE | PDE_2MIB_PAGE);
        }
        Sregs sregs = vcpu.getSregs();
        sregs.segment("cs", Segment.flatCode(code, true));
        for (String s : new String[] {"ds", "es", "fs", "gs", "ss"}) {
            sregs.segment(s, Segment.flatData(data));
        }
        sregs.table("gdt", GDT_ADDRESS, entries * 8 - 1);
        // OSFXSR/OSXMMEXCPT: the guest may use SSE (every x86-64 compiler emits it).
        sregs.cr3(PML4_ADDRESS).cr4(sregs.cr4() | CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT).cr0(sregs.cr0() | CR0_PE | CR0_ET | CR0_PG)
                .efer(sregs.efer() | EFER_LME | EFER_LMA);
        vcpu.setSregs(sregs);
        vcpu.setRegs(regs.set("rip", entry).set("rsp", rsp));
    }
}
