package io.sandboxd.vmm.boot;

import io.sandboxd.vmm.GuestRegion;
import io.sandboxd.vmm.arch.x86.BootCpuState;
import io.sandboxd.vmm.arch.x86.GuestCpuid;
import io.sandboxd.vmm.arch.x86.X86Modes;
import io.sandboxd.vmm.kvm.Regs;
import io.sandboxd.vmm.kvm.Vcpu;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * Boots Linux the way the x86-64 64-bit boot protocol describes: kernel, initramfs, command line and zero page
 * in guest memory, then the boot vCPU in long mode at the kernel's 64-bit entry with RSI pointing at the zero
 * page. Every vCPU gets our CPUID table ({@link GuestCpuid}) and firmware-like MSR, FPU and LAPIC state.
 *
 * <p>Guest-physical layout below 1 MiB (all of it left out of nothing: the e820 map marks 0x9fc00..1 MiB
 * reserved, the rest RAM the kernel may reuse once it has read its boot data):
 * <pre>
 *   0x0500  GDT (X86Modes)        0x7000  zero page        0x8ff0  initial stack (grows down)
 *   0x9000  page tables           0x20000 command line     1 MiB+  kernel, then the initramfs at the top of RAM
 * </pre>
 */
public final class LinuxBoot {
    public static final long ZERO_PAGE = 0x7000;
    public static final long BOOT_STACK = 0x8ff0;
    public static final long CMDLINE = 0x20000;
    /** Linux's COMMAND_LINE_SIZE on x86 (including the NUL). */
    public static final int MAX_CMDLINE = 2048;
    static final long EBDA_START = 0x9fc00;
    static final long HIGH_MEMORY = 1L << 20;

    private LinuxBoot() {
    }

    /** What the boot put where, for logs and tests. */
    public record Placement(LoadedKernel kernel, long initrd, long initrdSize, List<ZeroPage.E820Entry> e820) {
    }

    /**
     * Loads {@code spec} into guest memory ({@code regions}, as registered with KVM) and sets up every vCPU;
     * vCPU 0 starts at the kernel entry, the others wait for the kernel's INIT/SIPI.
     */
    public static Placement setUp(BootSpec spec, List<GuestRegion> regions, List<Vcpu> vcpus, byte[] supportedCpuid)
            throws IOException {
        Placement placement = place(spec, regions);
        MemorySegment ram = lowRam(regions);
        for (Vcpu v : vcpus) {
            v.setCpuid(GuestCpuid.forVcpu(supportedCpuid, v.id(), vcpus.size()));
            BootCpuState.apply(v);
        }
        X86Modes.linuxLongMode(vcpus.get(0), ram, placement.kernel().entry(), BOOT_STACK,
                new Regs().set("rsi", ZERO_PAGE));
        return placement;
    }

    private static MemorySegment lowRam(List<GuestRegion> regions) {
        return regions.stream().filter(r -> r.guestPhysAddr() == 0).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("no guest memory at guest-physical 0")).host();
    }

    /** The memory half of {@link #setUp}: kernel, initramfs, command line and zero page, no vCPU touched. */
    public static Placement place(BootSpec spec, List<GuestRegion> regions) throws IOException {
        GuestRegion low = regions.stream().filter(r -> r.guestPhysAddr() == 0).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("no guest memory at guest-physical 0"));
        MemorySegment ram = low.host();
        if (ram.byteSize() < 16L << 20) {
            throw new BootImageException("Linux needs more than " + (ram.byteSize() >> 20) + " MiB of low memory");
        }
        LoadedKernel kernel = loadKernel(spec.kernel(), ram);

        long initrd = 0;
        long initrdSize = 0;
        if (spec.initramfs() != null) {
            try (FileChannel ch = FileChannel.open(spec.initramfs(), StandardOpenOption.READ)) {
                initrdSize = ch.size();
                long top = Math.min(ram.byteSize(), kernel.initrdAddressMax() + 1);
                initrd = (top - initrdSize) & ~0xfffL;
                if (initrdSize == 0 || initrd < kernel.end()) {
                    throw new BootImageException("the initramfs " + spec.initramfs() + " (" + initrdSize
                            + " bytes) does not fit between the kernel's end at 0x" + Long.toHexString(kernel.end())
                            + " and 0x" + Long.toHexString(top));
                }
                ElfKernelLoader.copy(ch, 0, ram.asSlice(initrd, initrdSize), spec.initramfs());
            }
        }

        byte[] cmdline = spec.cmdline().getBytes(StandardCharsets.US_ASCII);
        if (cmdline.length + 1 > MAX_CMDLINE) {
            throw new BootImageException("the kernel command line is " + cmdline.length + " bytes; at most "
                    + (MAX_CMDLINE - 1));
        }
        MemorySegment.copy(MemorySegment.ofArray(cmdline), 0, ram, CMDLINE, cmdline.length);
        ram.set(java.lang.foreign.ValueLayout.JAVA_BYTE, CMDLINE + cmdline.length, (byte) 0);

        List<ZeroPage.E820Entry> e820 = e820(regions);
        ZeroPage.write(ram.asSlice(ZERO_PAGE, ZeroPage.SIZE), kernel.setupHeader(), CMDLINE, cmdline.length, initrd,
                initrdSize, e820);
        return new Placement(kernel, initrd, initrdSize, e820);
    }

    static LoadedKernel loadKernel(Path kernel, MemorySegment ram) throws IOException {
        ByteBuffer head;
        try (FileChannel ch = FileChannel.open(kernel, StandardOpenOption.READ)) {
            head = ElfKernelLoader.read(ch, 0, (int) Math.min(ch.size(), 0x1000), kernel);
        }
        if (ElfKernelLoader.isElf(head)) {
            return ElfKernelLoader.load(kernel, ram);
        }
        if (BzImageLoader.isBzImage(head)) {
            return BzImageLoader.load(kernel, ram);
        }
        throw new BootImageException(kernel + " is neither an ELF vmlinux nor a bzImage");
    }

    /** Low RAM up to the EBDA, the legacy BIOS hole reserved, then every region's RAM. */
    static List<ZeroPage.E820Entry> e820(List<GuestRegion> regions) {
        List<ZeroPage.E820Entry> map = new ArrayList<>();
        map.add(new ZeroPage.E820Entry(0, EBDA_START, ZeroPage.E820Type.RAM));
        map.add(new ZeroPage.E820Entry(EBDA_START, HIGH_MEMORY - EBDA_START, ZeroPage.E820Type.RESERVED));
        for (GuestRegion r : regions) {
            long start = Math.max(r.guestPhysAddr(), HIGH_MEMORY);
            long end = r.guestPhysAddr() + r.host().byteSize();
            if (end > start) {
                map.add(new ZeroPage.E820Entry(start, end - start, ZeroPage.E820Type.RAM));
            }
        }
        return map;
    }
}
