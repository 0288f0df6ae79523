package io.sandboxd.vmm.kvm;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;

import io.sandboxd.ffi.Kvm;
import java.lang.foreign.MemoryLayout.PathElement;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Flyweight over a vCPU's shared {@code struct kvm_run} page (mmap'd from the vCPU fd), in the Agrona style:
 * offsets computed once from {@link Kvm#kvm_run}, accessors read and write the page in place.
 *
 * <pre>
 *   0  request_interrupt_window u8 | immediate_exit u8 | padding1[6]
 *   8  exit_reason u32 | ready_for_interrupt_injection u8 | if_flag u8 | flags u16
 *  16  cr8 u64
 *  24  apic_base u64
 *  32  exit union (256 bytes): io {direction u8, size u8, port u16, count u32, data_offset u64}, mmio {phys_addr u64,
 *      data[8], len u32, is_write u8}, internal {suberror u32, ndata u32, data u64[16]}, fail_entry, system_event...
 * 288  kvm_valid_regs, kvm_dirty_regs, s (sync regs)
 * </pre>
 *
 * The page is written by the kernel during KVM_RUN and read by the vCPU thread after it; only
 * {@code immediate_exit} is written by another thread (a kick), which is why that one store is volatile.
 */
final class KvmRun {
    static final long IMMEDIATE_EXIT = off(groupElement("immediate_exit"));
    static final long EXIT_REASON = off(groupElement("exit_reason"));
    static final long IO_DIRECTION = exit("io", "direction");
    static final long IO_SIZE = exit("io", "size");
    static final long IO_PORT = exit("io", "port");
    static final long IO_COUNT = exit("io", "count");
    static final long IO_DATA_OFFSET = exit("io", "data_offset");
    static final long MMIO_PHYS_ADDR = exit("mmio", "phys_addr");
    static final long MMIO_DATA = exit("mmio", "data");
    static final long MMIO_LEN = exit("mmio", "len");
    static final long MMIO_IS_WRITE = exit("mmio", "is_write");
    static final long INTERNAL_SUBERROR = exit("internal", "suberror");
    static final long INTERNAL_NDATA = exit("internal", "ndata");
    static final long INTERNAL_DATA = exit("internal", "data");
    static final long FAIL_ENTRY_REASON = exit("fail_entry", "hardware_entry_failure_reason");
    static final long FAIL_ENTRY_CPU = exit("fail_entry", "cpu");
    static final long SYSTEM_EVENT_TYPE = exit("system_event", "type");
    static final long HW_EXIT_REASON = exit("hw", "hardware_exit_reason");

    private final MemorySegment page;

    KvmRun(MemorySegment page) {
        if (page.byteSize() < Kvm.kvm_run.byteSize()) {
            throw new IllegalArgumentException("kvm_run mapping of " + page.byteSize() + " bytes is too small");
        }
        this.page = page;
    }

    private static long off(PathElement... path) {
        return Kvm.kvm_run.byteOffset(path);
    }

    private static long exit(String member, String field) {
        return off(groupElement("exit"), groupElement(member), groupElement(field));
    }

    MemorySegment page() {
        return page;
    }

    int exitReason() {
        return page.get(ValueLayout.JAVA_INT, EXIT_REASON);
    }

    /** Makes the next (or current) KVM_RUN return EINTR at once; see {@link Vcpu#kick()}. */
    void requestImmediateExit() {
        page.set(ValueLayout.JAVA_BYTE, IMMEDIATE_EXIT, (byte) 1);
        java.lang.invoke.VarHandle.fullFence();
    }

    void clearImmediateExit() {
        page.set(ValueLayout.JAVA_BYTE, IMMEDIATE_EXIT, (byte) 0);
    }

    boolean immediateExit() {
        return page.get(ValueLayout.JAVA_BYTE, IMMEDIATE_EXIT) != 0;
    }

    boolean ioIn() {
        return page.get(ValueLayout.JAVA_BYTE, IO_DIRECTION) == Kvm.KVM_EXIT_IO_IN;
    }

    int ioSize() {
        return page.get(ValueLayout.JAVA_BYTE, IO_SIZE) & 0xff;
    }

    int ioPort() {
        return page.get(ValueLayout.JAVA_SHORT, IO_PORT) & 0xffff;
    }

    int ioCount() {
        return page.get(ValueLayout.JAVA_INT, IO_COUNT);
    }

    /** The bytes of a port I/O exit (size x count), inside the kvm_run page. */
    MemorySegment ioData() {
        long offset = page.get(ValueLayout.JAVA_LONG, IO_DATA_OFFSET);
        long length = (long) ioSize() * ioCount();
        if (offset < 0 || offset + length > page.byteSize()) {
            throw new IllegalStateException("KVM reported port I/O data at " + offset + "+" + length
                    + " outside the kvm_run page of " + page.byteSize() + " bytes");
        }
        return page.asSlice(offset, length);
    }

    long mmioAddress() {
        return page.get(ValueLayout.JAVA_LONG, MMIO_PHYS_ADDR);
    }

    int mmioLength() {
        return page.get(ValueLayout.JAVA_INT, MMIO_LEN);
    }

    boolean mmioWrite() {
        return page.get(ValueLayout.JAVA_BYTE, MMIO_IS_WRITE) != 0;
    }

    MemorySegment mmioData() {
        return page.asSlice(MMIO_DATA, Math.min(8, Math.max(0, mmioLength())));
    }

    int internalSuberror() {
        return page.get(ValueLayout.JAVA_INT, INTERNAL_SUBERROR);
    }

    long[] internalData() {
        int n = Math.min(16, Math.max(0, page.get(ValueLayout.JAVA_INT, INTERNAL_NDATA)));
        long[] data = new long[n];
        for (int i = 0; i < n; i++) {
            data[i] = page.get(ValueLayout.JAVA_LONG, INTERNAL_DATA + 8L * i);
        }
        return data;
    }

    long failEntryReason() {
        return page.get(ValueLayout.JAVA_LONG, FAIL_ENTRY_REASON);
    }

    int failEntryCpu() {
        return page.get(ValueLayout.JAVA_INT, FAIL_ENTRY_CPU);
    }

    int systemEventType() {
        return page.get(ValueLayout.JAVA_INT, SYSTEM_EVENT_TYPE);
    }

    long hardwareExitReason() {
        return page.get(ValueLayout.JAVA_LONG, HW_EXIT_REASON);
    }
}
