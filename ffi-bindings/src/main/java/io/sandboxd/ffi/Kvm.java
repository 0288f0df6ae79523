package io.sandboxd.ffi;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SequenceLayout;
import java.lang.foreign.StructLayout;
import java.lang.foreign.UnionLayout;
import java.lang.foreign.ValueLayout;

/**
 * KVM ({@code <linux/kvm.h>}, {@code <asm/kvm.h>}, x86-64): the structs the VM/vCPU life cycle and the complete
 * state save/restore path use, the ioctl request numbers derived from their sizes, and the constants we branch on.
 *
 * <p>Layouts are in the jextract style: one static layout per C struct, member names are the C field names, and
 * every struct, field offset, ioctl number and constant is compared with the system headers by
 * {@code KvmHeadersTest} (probe {@code native-headers/.../kvm.c}). Two deliberate naming choices:
 * <ul>
 *   <li>{@code kvm_run}'s exit information is an anonymous union in C; here it is the member {@code exit}, so the
 *       C path {@code io.port} is {@code exit.io.port} (the probe prints it that way).</li>
 *   <li>flexible array members ({@code kvm_msrs.entries}, {@code kvm_cpuid2.entries}, {@code kvm_msr_list.indices},
 *       {@code kvm_xsave.extra}, {@code kvm_signal_mask.sigset}) are zero-length sequences, as {@code sizeof} in C
 *       counts them; callers allocate header + n entries with the {@code ...Size(n)} helpers.</li>
 * </ul>
 *
 * <p>Calls go through {@link Libc#ioctl(int, long, MemorySegment, String)} (errno captured, failures name the
 * request); KVM adds no functions of its own.
 */
public final class Kvm {
    // ---- <linux/kvm.h> basics ------------------------------------------------------------------------------------
    public static final int KVMIO = 0xAE;
    public static final int KVM_API_VERSION = 12;

    // KVM_RUN exit reasons we handle (others are reported by number)
    public static final int KVM_EXIT_UNKNOWN = 0;
    public static final int KVM_EXIT_EXCEPTION = 1;
    public static final int KVM_EXIT_IO = 2;
    public static final int KVM_EXIT_HYPERCALL = 3;
    public static final int KVM_EXIT_DEBUG = 4;
    public static final int KVM_EXIT_HLT = 5;
    public static final int KVM_EXIT_MMIO = 6;
    public static final int KVM_EXIT_IRQ_WINDOW_OPEN = 7;
    public static final int KVM_EXIT_SHUTDOWN = 8;
    public static final int KVM_EXIT_FAIL_ENTRY = 9;
    public static final int KVM_EXIT_INTR = 10;
    public static final int KVM_EXIT_NMI = 16;
    public static final int KVM_EXIT_INTERNAL_ERROR = 17;
    public static final int KVM_EXIT_SYSTEM_EVENT = 24;
    public static final int KVM_EXIT_IO_IN = 0;
    public static final int KVM_EXIT_IO_OUT = 1;
    public static final int KVM_INTERNAL_ERROR_EMULATION = 1;
    public static final int KVM_INTERNAL_ERROR_SIMUL_EX = 2;
    public static final int KVM_INTERNAL_ERROR_DELIVERY_EV = 3;
    public static final int KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON = 4;
    public static final int KVM_SYSTEM_EVENT_SHUTDOWN = 1;
    public static final int KVM_SYSTEM_EVENT_RESET = 2;
    public static final int KVM_SYSTEM_EVENT_CRASH = 3;

    // KVM_CHECK_EXTENSION
    public static final int KVM_CAP_IRQCHIP = 0;
    public static final int KVM_CAP_HLT = 1;
    public static final int KVM_CAP_USER_MEMORY = 3;
    public static final int KVM_CAP_SET_TSS_ADDR = 4;
    public static final int KVM_CAP_EXT_CPUID = 7;
    public static final int KVM_CAP_NR_VCPUS = 9;
    public static final int KVM_CAP_NR_MEMSLOTS = 10;
    public static final int KVM_CAP_MP_STATE = 14;
    public static final int KVM_CAP_SYNC_MMU = 16;
    public static final int KVM_CAP_IRQFD = 32;
    public static final int KVM_CAP_PIT2 = 33;
    public static final int KVM_CAP_PIT_STATE2 = 35;
    public static final int KVM_CAP_IOEVENTFD = 36;
    public static final int KVM_CAP_SET_IDENTITY_MAP_ADDR = 37;
    public static final int KVM_CAP_ADJUST_CLOCK = 39;
    public static final int KVM_CAP_VCPU_EVENTS = 41;
    public static final int KVM_CAP_DEBUGREGS = 50;
    public static final int KVM_CAP_XSAVE = 55;
    public static final int KVM_CAP_XCRS = 56;
    public static final int KVM_CAP_GET_TSC_KHZ = 61;
    public static final int KVM_CAP_MAX_VCPUS = 66;
    public static final int KVM_CAP_READONLY_MEM = 81;
    public static final int KVM_CAP_IMMEDIATE_EXIT = 136;
    public static final int KVM_CAP_XSAVE2 = 208;

    // memory slots, MP state, irqchips, PIT, clock, events
    public static final int KVM_MEM_LOG_DIRTY_PAGES = 1;
    public static final int KVM_MEM_READONLY = 2;
    public static final int KVM_MP_STATE_RUNNABLE = 0;
    public static final int KVM_MP_STATE_UNINITIALIZED = 1;
    public static final int KVM_MP_STATE_INIT_RECEIVED = 2;
    public static final int KVM_MP_STATE_HALTED = 3;
    public static final int KVM_MP_STATE_SIPI_RECEIVED = 4;
    public static final int KVM_IRQCHIP_PIC_MASTER = 0;
    public static final int KVM_IRQCHIP_PIC_SLAVE = 1;
    public static final int KVM_IRQCHIP_IOAPIC = 2;
    public static final int KVM_NR_IRQCHIPS = 3;
    public static final int KVM_IOAPIC_NUM_PINS = 24;
    public static final int KVM_NR_INTERRUPTS = 256;
    public static final int KVM_APIC_REG_SIZE = 0x400;
    public static final int KVM_MAX_XCRS = 16;
    public static final int KVM_PIT_SPEAKER_DUMMY = 1;
    public static final int KVM_PIT_FLAGS_HPET_LEGACY = 1;
    public static final int KVM_CLOCK_TSC_STABLE = 2;
    public static final int KVM_CLOCK_REALTIME = 1 << 2;
    public static final int KVM_CLOCK_HOST_TSC = 1 << 3;
    public static final int KVM_VCPUEVENT_VALID_NMI_PENDING = 0x01;
    public static final int KVM_VCPUEVENT_VALID_SIPI_VECTOR = 0x02;
    public static final int KVM_VCPUEVENT_VALID_SHADOW = 0x04;
    public static final int KVM_VCPUEVENT_VALID_SMM = 0x08;
    public static final int KVM_VCPUEVENT_VALID_PAYLOAD = 0x10;
    public static final int KVM_VCPUEVENT_VALID_TRIPLE_FAULT = 0x20;
    public static final int KVM_IRQFD_FLAG_DEASSIGN = 1;
    public static final int KVM_IRQFD_FLAG_RESAMPLE = 2;
    public static final int KVM_IOEVENTFD_FLAG_DATAMATCH = 1;
    public static final int KVM_IOEVENTFD_FLAG_PIO = 2;
    public static final int KVM_IOEVENTFD_FLAG_DEASSIGN = 4;

    private Kvm() {
    }

    private static ValueLayout.OfByte u8(String name) {
        return JAVA_BYTE.withName(name);
    }

    private static ValueLayout.OfShort u16(String name) {
        return JAVA_SHORT.withName(name);
    }

    private static ValueLayout.OfInt u32(String name) {
        return JAVA_INT.withName(name);
    }

    private static ValueLayout.OfLong u64(String name) {
        return JAVA_LONG.withName(name);
    }

    private static SequenceLayout array(String name, long count, MemoryLayout element) {
        return MemoryLayout.sequenceLayout(count, element).withName(name);
    }

    private static MemoryLayout pad(long bytes) {
        return MemoryLayout.paddingLayout(bytes);
    }

    // ---- struct kvm_run (the mmap'd vCPU communication page) -----------------------------------------------------

    /** {@code struct kvm_debug_exit_arch}. */
    public static final StructLayout kvm_debug_exit_arch = MemoryLayout.structLayout(
            u32("exception"), u32("pad"), u64("pc"), u64("dr6"), u64("dr7")).withName("kvm_debug_exit_arch");

    /** The exit union of {@code kvm_run}: the x86 members we read, padded to its fixed 256 bytes. */
    public static final UnionLayout kvm_run_exit = MemoryLayout.unionLayout(
            MemoryLayout.structLayout(u64("hardware_exit_reason")).withName("hw"),
            MemoryLayout.structLayout(u64("hardware_entry_failure_reason"), u32("cpu"), pad(4)).withName("fail_entry"),
            MemoryLayout.structLayout(u32("exception"), u32("error_code")).withName("ex"),
            MemoryLayout.structLayout(u8("direction"), u8("size"), u16("port"), u32("count"), u64("data_offset"))
                    .withName("io"),
            MemoryLayout.structLayout(kvm_debug_exit_arch.withName("arch")).withName("debug"),
            MemoryLayout.structLayout(u64("phys_addr"), array("data", 8, JAVA_BYTE), u32("len"), u8("is_write"), pad(3))
                    .withName("mmio"),
            MemoryLayout.structLayout(u32("suberror"), u32("ndata"), array("data", 16, JAVA_LONG)).withName("internal"),
            MemoryLayout.structLayout(u32("type"), u32("ndata"), array("data", 16, JAVA_LONG)).withName("system_event"),
            array("padding", 256, JAVA_BYTE)).withName("exit");

    /** {@code struct kvm_run}. */
    public static final StructLayout kvm_run = MemoryLayout.structLayout(
            u8("request_interrupt_window"), u8("immediate_exit"), array("padding1", 6, JAVA_BYTE),
            u32("exit_reason"), u8("ready_for_interrupt_injection"), u8("if_flag"), u16("flags"),
            u64("cr8"), u64("apic_base"),
            kvm_run_exit,
            u64("kvm_valid_regs"), u64("kvm_dirty_regs"),
            array("s", 2048, JAVA_BYTE)).withName("kvm_run");

    // ---- registers ----------------------------------------------------------------------------------------------

    /** {@code struct kvm_regs}. */
    public static final StructLayout kvm_regs = MemoryLayout.structLayout(
            u64("rax"), u64("rbx"), u64("rcx"), u64("rdx"), u64("rsi"), u64("rdi"), u64("rsp"), u64("rbp"),
            u64("r8"), u64("r9"), u64("r10"), u64("r11"), u64("r12"), u64("r13"), u64("r14"), u64("r15"),
            u64("rip"), u64("rflags")).withName("kvm_regs");

    /** {@code struct kvm_segment}. */
    public static final StructLayout kvm_segment = MemoryLayout.structLayout(
            u64("base"), u32("limit"), u16("selector"), u8("type"), u8("present"), u8("dpl"), u8("db"), u8("s"),
            u8("l"), u8("g"), u8("avl"), u8("unusable"), u8("padding")).withName("kvm_segment");

    /** {@code struct kvm_dtable}. */
    public static final StructLayout kvm_dtable = MemoryLayout.structLayout(
            u64("base"), u16("limit"), array("padding", 3, JAVA_SHORT)).withName("kvm_dtable");

    /** {@code struct kvm_sregs}. */
    public static final StructLayout kvm_sregs = MemoryLayout.structLayout(
            kvm_segment.withName("cs"), kvm_segment.withName("ds"), kvm_segment.withName("es"),
            kvm_segment.withName("fs"), kvm_segment.withName("gs"), kvm_segment.withName("ss"),
            kvm_segment.withName("tr"), kvm_segment.withName("ldt"),
            kvm_dtable.withName("gdt"), kvm_dtable.withName("idt"),
            u64("cr0"), u64("cr2"), u64("cr3"), u64("cr4"), u64("cr8"), u64("efer"), u64("apic_base"),
            array("interrupt_bitmap", (KVM_NR_INTERRUPTS + 63) / 64, JAVA_LONG)).withName("kvm_sregs");

    /** {@code struct kvm_fpu}. */
    public static final StructLayout kvm_fpu = MemoryLayout.structLayout(
            array("fpr", 8, MemoryLayout.sequenceLayout(16, JAVA_BYTE)), u16("fcw"), u16("fsw"), u8("ftwx"), u8("pad1"),
            u16("last_opcode"), u64("last_ip"), u64("last_dp"), array("xmm", 16, MemoryLayout.sequenceLayout(16, JAVA_BYTE)),
            u32("mxcsr"), u32("pad2")).withName("kvm_fpu");

    /** {@code struct kvm_xsave}: the legacy 4 KiB region; with KVM_CAP_XSAVE2 the buffer may be larger. */
    public static final StructLayout kvm_xsave = MemoryLayout.structLayout(
            array("region", 1024, JAVA_INT), array("extra", 0, JAVA_INT)).withName("kvm_xsave");

    /** {@code struct kvm_xcr}. */
    public static final StructLayout kvm_xcr = MemoryLayout.structLayout(
            u32("xcr"), u32("reserved"), u64("value")).withName("kvm_xcr");

    /** {@code struct kvm_xcrs}. */
    public static final StructLayout kvm_xcrs = MemoryLayout.structLayout(
            u32("nr_xcrs"), u32("flags"), array("xcrs", KVM_MAX_XCRS, kvm_xcr), array("padding", 16, JAVA_LONG))
            .withName("kvm_xcrs");

    /** {@code struct kvm_debugregs}. */
    public static final StructLayout kvm_debugregs = MemoryLayout.structLayout(
            array("db", 4, JAVA_LONG), u64("dr6"), u64("dr7"), u64("flags"), array("reserved", 9, JAVA_LONG))
            .withName("kvm_debugregs");

    // ---- MSRs and CPUID -----------------------------------------------------------------------------------------

    /** {@code struct kvm_msr_entry}. */
    public static final StructLayout kvm_msr_entry = MemoryLayout.structLayout(
            u32("index"), u32("reserved"), u64("data")).withName("kvm_msr_entry");

    /** {@code struct kvm_msrs}: header of {@code nmsrs} trailing {@link #kvm_msr_entry}s. */
    public static final StructLayout kvm_msrs = MemoryLayout.structLayout(
            u32("nmsrs"), u32("pad"), array("entries", 0, kvm_msr_entry)).withName("kvm_msrs");

    /** {@code struct kvm_msr_list}: header of {@code nmsrs} trailing u32 indices. */
    public static final StructLayout kvm_msr_list = MemoryLayout.structLayout(
            u32("nmsrs"), array("indices", 0, JAVA_INT)).withName("kvm_msr_list");

    /** {@code struct kvm_cpuid_entry2}. */
    public static final StructLayout kvm_cpuid_entry2 = MemoryLayout.structLayout(
            u32("function"), u32("index"), u32("flags"), u32("eax"), u32("ebx"), u32("ecx"), u32("edx"),
            array("padding", 3, JAVA_INT)).withName("kvm_cpuid_entry2");

    /** {@code struct kvm_cpuid2}: header of {@code nent} trailing {@link #kvm_cpuid_entry2}s. */
    public static final StructLayout kvm_cpuid2 = MemoryLayout.structLayout(
            u32("nent"), u32("padding"), array("entries", 0, kvm_cpuid_entry2)).withName("kvm_cpuid2");

    // ---- interrupt controllers, timers, clock, events ---------------------------------------------------------

    /** {@code struct kvm_lapic_state}: the APIC register page, opaque to us. */
    public static final StructLayout kvm_lapic_state = MemoryLayout.structLayout(
            array("regs", KVM_APIC_REG_SIZE, JAVA_BYTE)).withName("kvm_lapic_state");

    /** {@code struct kvm_mp_state}. */
    public static final StructLayout kvm_mp_state = MemoryLayout.structLayout(u32("mp_state")).withName("kvm_mp_state");

    /** {@code struct kvm_vcpu_events}. */
    public static final StructLayout kvm_vcpu_events = MemoryLayout.structLayout(
            MemoryLayout.structLayout(u8("injected"), u8("nr"), u8("has_error_code"), u8("pending"), u32("error_code"))
                    .withName("exception"),
            MemoryLayout.structLayout(u8("injected"), u8("nr"), u8("soft"), u8("shadow")).withName("interrupt"),
            MemoryLayout.structLayout(u8("injected"), u8("pending"), u8("masked"), u8("pad")).withName("nmi"),
            u32("sipi_vector"), u32("flags"),
            MemoryLayout.structLayout(u8("smm"), u8("pending"), u8("smm_inside_nmi"), u8("latched_init")).withName("smi"),
            MemoryLayout.structLayout(u8("pending")).withName("triple_fault"),
            array("reserved", 26, JAVA_BYTE), u8("exception_has_payload"), u64("exception_payload"))
            .withName("kvm_vcpu_events");

    /** {@code struct kvm_pit_channel_state}. */
    public static final StructLayout kvm_pit_channel_state = MemoryLayout.structLayout(
            u32("count"), u16("latched_count"), u8("count_latched"), u8("status_latched"), u8("status"), u8("read_state"),
            u8("write_state"), u8("write_latch"), u8("rw_mode"), u8("mode"), u8("bcd"), u8("gate"),
            u64("count_load_time")).withName("kvm_pit_channel_state");

    /** {@code struct kvm_pit_state2}. */
    public static final StructLayout kvm_pit_state2 = MemoryLayout.structLayout(
            array("channels", 3, kvm_pit_channel_state), u32("flags"), array("reserved", 9, JAVA_INT))
            .withName("kvm_pit_state2");

    /** {@code struct kvm_pit_config}. */
    public static final StructLayout kvm_pit_config = MemoryLayout.structLayout(
            u32("flags"), array("pad", 15, JAVA_INT)).withName("kvm_pit_config");

    /** {@code struct kvm_clock_data}. */
    public static final StructLayout kvm_clock_data = MemoryLayout.structLayout(
            u64("clock"), u32("flags"), u32("pad0"), u64("realtime"), u64("host_tsc"), array("pad", 4, JAVA_INT))
            .withName("kvm_clock_data");

    /** {@code struct kvm_pic_state}. */
    public static final StructLayout kvm_pic_state = MemoryLayout.structLayout(
            u8("last_irr"), u8("irr"), u8("imr"), u8("isr"), u8("priority_add"), u8("irq_base"), u8("read_reg_select"),
            u8("poll"), u8("special_mask"), u8("init_state"), u8("auto_eoi"), u8("rotate_on_auto_eoi"),
            u8("special_fully_nested_mode"), u8("init4"), u8("elcr"), u8("elcr_mask")).withName("kvm_pic_state");

    /**
     * {@code struct kvm_ioapic_state}; each redirection entry is a bitfield union in C, kept here as its raw
     * 64-bit value (we save and restore it, never decode it).
     */
    public static final StructLayout kvm_ioapic_state = MemoryLayout.structLayout(
            u64("base_address"), u32("ioregsel"), u32("id"), u32("irr"), u32("pad"),
            array("redirtbl", KVM_IOAPIC_NUM_PINS, JAVA_LONG)).withName("kvm_ioapic_state");

    /** {@code struct kvm_irqchip}: {@code chip_id} selects which member of the {@code chip} union is valid. */
    public static final StructLayout kvm_irqchip = MemoryLayout.structLayout(
            u32("chip_id"), u32("pad"),
            MemoryLayout.unionLayout(array("dummy", 512, JAVA_BYTE), kvm_pic_state.withName("pic"),
                    kvm_ioapic_state.withName("ioapic")).withName("chip")).withName("kvm_irqchip");

    /** {@code struct kvm_irq_level} (the anonymous {@code irq}/{@code status} union is its {@code irq} member). */
    public static final StructLayout kvm_irq_level = MemoryLayout.structLayout(u32("irq"), u32("level"))
            .withName("kvm_irq_level");

    // ---- memory, eventfds, signals, capabilities ----------------------------------------------------------------

    /** {@code struct kvm_userspace_memory_region}. */
    public static final StructLayout kvm_userspace_memory_region = MemoryLayout.structLayout(
            u32("slot"), u32("flags"), u64("guest_phys_addr"), u64("memory_size"), u64("userspace_addr"))
            .withName("kvm_userspace_memory_region");

    /** {@code struct kvm_dirty_log}; {@code dirty_bitmap} shares its union with a u64 pad of the same size. */
    public static final StructLayout kvm_dirty_log = MemoryLayout.structLayout(
            u32("slot"), u32("padding1"), ADDRESS.withName("dirty_bitmap")).withName("kvm_dirty_log");

    /** {@code struct kvm_irqfd}. */
    public static final StructLayout kvm_irqfd = MemoryLayout.structLayout(
            u32("fd"), u32("gsi"), u32("flags"), u32("resamplefd"), array("pad", 16, JAVA_BYTE)).withName("kvm_irqfd");

    /** {@code struct kvm_ioeventfd}. */
    public static final StructLayout kvm_ioeventfd = MemoryLayout.structLayout(
            u64("datamatch"), u64("addr"), u32("len"), u32("fd"), u32("flags"), array("pad", 36, JAVA_BYTE))
            .withName("kvm_ioeventfd");

    /** {@code struct kvm_signal_mask}: header of {@code len} bytes of kernel sigset. */
    public static final StructLayout kvm_signal_mask = MemoryLayout.structLayout(
            u32("len"), array("sigset", 0, JAVA_BYTE)).withName("kvm_signal_mask");

    /** {@code struct kvm_enable_cap}. */
    public static final StructLayout kvm_enable_cap = MemoryLayout.structLayout(
            u32("cap"), u32("flags"), array("args", 4, JAVA_LONG), array("pad", 64, JAVA_BYTE)).withName("kvm_enable_cap");

    // ---- ioctl request numbers (derived from the struct sizes, pinned by KvmHeadersTest) -------------------------

    // on /dev/kvm
    public static final long KVM_GET_API_VERSION = Ioctl.io(KVMIO, 0x00);
    public static final long KVM_CREATE_VM = Ioctl.io(KVMIO, 0x01);
    public static final long KVM_GET_MSR_INDEX_LIST = Ioctl.iowr(KVMIO, 0x02, kvm_msr_list.byteSize());
    public static final long KVM_CHECK_EXTENSION = Ioctl.io(KVMIO, 0x03);
    public static final long KVM_GET_VCPU_MMAP_SIZE = Ioctl.io(KVMIO, 0x04);
    public static final long KVM_GET_SUPPORTED_CPUID = Ioctl.iowr(KVMIO, 0x05, kvm_cpuid2.byteSize());
    public static final long KVM_GET_MSR_FEATURE_INDEX_LIST = Ioctl.iowr(KVMIO, 0x0a, kvm_msr_list.byteSize());
    // on a VM fd
    public static final long KVM_CREATE_VCPU = Ioctl.io(KVMIO, 0x41);
    public static final long KVM_GET_DIRTY_LOG = Ioctl.iow(KVMIO, 0x42, kvm_dirty_log.byteSize());
    public static final long KVM_SET_USER_MEMORY_REGION = Ioctl.iow(KVMIO, 0x46, kvm_userspace_memory_region.byteSize());
    public static final long KVM_SET_TSS_ADDR = Ioctl.io(KVMIO, 0x47);
    public static final long KVM_SET_IDENTITY_MAP_ADDR = Ioctl.iow(KVMIO, 0x48, JAVA_LONG.byteSize());
    public static final long KVM_CREATE_IRQCHIP = Ioctl.io(KVMIO, 0x60);
    public static final long KVM_IRQ_LINE = Ioctl.iow(KVMIO, 0x61, kvm_irq_level.byteSize());
    public static final long KVM_GET_IRQCHIP = Ioctl.iowr(KVMIO, 0x62, kvm_irqchip.byteSize());
    /** _IOR although it writes: a historical mistake the kernel keeps for ABI compatibility. */
    public static final long KVM_SET_IRQCHIP = Ioctl.ior(KVMIO, 0x63, kvm_irqchip.byteSize());
    public static final long KVM_IRQFD = Ioctl.iow(KVMIO, 0x76, kvm_irqfd.byteSize());
    public static final long KVM_CREATE_PIT2 = Ioctl.iow(KVMIO, 0x77, kvm_pit_config.byteSize());
    public static final long KVM_IOEVENTFD = Ioctl.iow(KVMIO, 0x79, kvm_ioeventfd.byteSize());
    public static final long KVM_SET_CLOCK = Ioctl.iow(KVMIO, 0x7b, kvm_clock_data.byteSize());
    public static final long KVM_GET_CLOCK = Ioctl.ior(KVMIO, 0x7c, kvm_clock_data.byteSize());
    public static final long KVM_GET_PIT2 = Ioctl.ior(KVMIO, 0x9f, kvm_pit_state2.byteSize());
    public static final long KVM_SET_PIT2 = Ioctl.iow(KVMIO, 0xa0, kvm_pit_state2.byteSize());
    public static final long KVM_ENABLE_CAP = Ioctl.iow(KVMIO, 0xa3, kvm_enable_cap.byteSize());
    // on a vCPU fd
    public static final long KVM_RUN = Ioctl.io(KVMIO, 0x80);
    public static final long KVM_GET_REGS = Ioctl.ior(KVMIO, 0x81, kvm_regs.byteSize());
    public static final long KVM_SET_REGS = Ioctl.iow(KVMIO, 0x82, kvm_regs.byteSize());
    public static final long KVM_GET_SREGS = Ioctl.ior(KVMIO, 0x83, kvm_sregs.byteSize());
    public static final long KVM_SET_SREGS = Ioctl.iow(KVMIO, 0x84, kvm_sregs.byteSize());
    public static final long KVM_GET_MSRS = Ioctl.iowr(KVMIO, 0x88, kvm_msrs.byteSize());
    public static final long KVM_SET_MSRS = Ioctl.iow(KVMIO, 0x89, kvm_msrs.byteSize());
    public static final long KVM_SET_SIGNAL_MASK = Ioctl.iow(KVMIO, 0x8b, kvm_signal_mask.byteSize());
    public static final long KVM_GET_FPU = Ioctl.ior(KVMIO, 0x8c, kvm_fpu.byteSize());
    public static final long KVM_SET_FPU = Ioctl.iow(KVMIO, 0x8d, kvm_fpu.byteSize());
    public static final long KVM_GET_LAPIC = Ioctl.ior(KVMIO, 0x8e, kvm_lapic_state.byteSize());
    public static final long KVM_SET_LAPIC = Ioctl.iow(KVMIO, 0x8f, kvm_lapic_state.byteSize());
    public static final long KVM_SET_CPUID2 = Ioctl.iow(KVMIO, 0x90, kvm_cpuid2.byteSize());
    public static final long KVM_GET_CPUID2 = Ioctl.iowr(KVMIO, 0x91, kvm_cpuid2.byteSize());
    public static final long KVM_GET_MP_STATE = Ioctl.ior(KVMIO, 0x98, kvm_mp_state.byteSize());
    public static final long KVM_SET_MP_STATE = Ioctl.iow(KVMIO, 0x99, kvm_mp_state.byteSize());
    public static final long KVM_GET_VCPU_EVENTS = Ioctl.ior(KVMIO, 0x9f, kvm_vcpu_events.byteSize());
    public static final long KVM_SET_VCPU_EVENTS = Ioctl.iow(KVMIO, 0xa0, kvm_vcpu_events.byteSize());
    public static final long KVM_GET_DEBUGREGS = Ioctl.ior(KVMIO, 0xa1, kvm_debugregs.byteSize());
    public static final long KVM_SET_DEBUGREGS = Ioctl.iow(KVMIO, 0xa2, kvm_debugregs.byteSize());
    public static final long KVM_GET_XSAVE = Ioctl.ior(KVMIO, 0xa4, kvm_xsave.byteSize());
    public static final long KVM_SET_XSAVE = Ioctl.iow(KVMIO, 0xa5, kvm_xsave.byteSize());
    public static final long KVM_GET_XCRS = Ioctl.ior(KVMIO, 0xa6, kvm_xcrs.byteSize());
    public static final long KVM_SET_XCRS = Ioctl.iow(KVMIO, 0xa7, kvm_xcrs.byteSize());
    public static final long KVM_GET_TSC_KHZ = Ioctl.io(KVMIO, 0xa3);
    public static final long KVM_KVMCLOCK_CTRL = Ioctl.io(KVMIO, 0xad);
    /** Available with KVM_CAP_XSAVE2: like KVM_GET_XSAVE but fills as many bytes as the capability reports. */
    public static final long KVM_GET_XSAVE2 = Ioctl.ior(KVMIO, 0xcf, kvm_xsave.byteSize());

    // ---- sizes of the variable-length structs --------------------------------------------------------------------

    /** Bytes for a {@code kvm_msrs} with {@code n} entries. */
    public static long msrsSize(int n) {
        return kvm_msrs.byteSize() + n * kvm_msr_entry.byteSize();
    }

    /** Bytes for a {@code kvm_msr_list} with room for {@code n} indices. */
    public static long msrListSize(int n) {
        return kvm_msr_list.byteSize() + n * JAVA_INT.byteSize();
    }

    /** Bytes for a {@code kvm_cpuid2} with {@code n} entries. */
    public static long cpuid2Size(int n) {
        return kvm_cpuid2.byteSize() + n * kvm_cpuid_entry2.byteSize();
    }
}
