package io.sandboxd.vmm.kvm;

import io.sandboxd.ffi.Errno;
import io.sandboxd.ffi.Kvm;
import io.sandboxd.ffi.Libc;
import io.sandboxd.ffi.NativeException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A KVM VM fd: memory slots, the in-kernel interrupt controllers and PIT, vCPUs, and the VM-wide state
 * (PIT, clock, irqchips). Owns its fd and its vCPUs; {@link #close()} closes them all. Guest memory is not owned:
 * the memory backend that mapped it unmaps it after the VM is closed.
 */
public final class Vm implements AutoCloseable {
    /**
     * Where KVM on Intel puts the three pages of TSS it needs for real-mode emulation: just below the 4 GiB
     * boundary's BIOS area, where guest RAM and MMIO devices never are (the address Firecracker and QEMU use).
     */
    public static final long TSS_ADDRESS = 0xfffb_d000L;

    private final KvmSystem kvm;
    private final int fd;
    private final Map<Integer, MemorySlot> slots = new TreeMap<>();
    /** Copy of {@link #slots} for lock-free reads on the vCPU threads' exit path. */
    private volatile MemorySlot[] slotArray = new MemorySlot[0];
    private final List<Vcpu> vcpus = new ArrayList<>();
    private boolean irqchip;
    private boolean pit;
    private boolean closed;

    private Vm(KvmSystem kvm, int fd) {
        this.kvm = kvm;
        this.fd = fd;
    }

    static Vm create(KvmSystem kvm) {
        int fd;
        // KVM_CREATE_VM can fail with EINTR when a signal arrives while the kernel sets up the VM's worker
        // threads (kvm_vm_create_worker_thread); it is safe to retry.
        do {
            fd = Libc.ioctlRaw(kvm.fd(), Kvm.KVM_CREATE_VM, 0L);
        } while (fd == -Errno.EINTR);
        if (fd < 0) {
            throw new NativeException("ioctl(KVM_CREATE_VM)", -fd);
        }
        Vm vm = new Vm(kvm, fd);
        try {
            if (kvm.checkExtension(Kvm.KVM_CAP_SET_TSS_ADDR) > 0) {
                Libc.ioctl(fd, Kvm.KVM_SET_TSS_ADDR, TSS_ADDRESS, "KVM_SET_TSS_ADDR");
            }
        } catch (RuntimeException e) {
            vm.close();
            throw e;
        }
        return vm;
    }

    public int fd() {
        return fd;
    }

    public KvmSystem kvm() {
        return kvm;
    }

    /** KVM_CHECK_EXTENSION on the VM fd (some answers, like KVM_CAP_XSAVE2's size, are per VM). */
    public int checkExtension(int capability) {
        return Libc.ioctl(fd, Kvm.KVM_CHECK_EXTENSION, capability, "KVM_CHECK_EXTENSION");
    }

    /** In-kernel PIC pair, IOAPIC and (per vCPU) LAPIC. Must come before any vCPU is created. */
    public void createIrqchip() {
        if (!vcpus.isEmpty()) {
            throw new IllegalStateException("KVM_CREATE_IRQCHIP must be called before the first vCPU is created");
        }
        Libc.ioctl(fd, Kvm.KVM_CREATE_IRQCHIP, 0L, "KVM_CREATE_IRQCHIP");
        irqchip = true;
    }

    /** The in-kernel i8254 PIT; needs the irqchip. The dummy speaker port avoids a userspace exit per beep. */
    public void createPit() {
        if (!irqchip) {
            throw new IllegalStateException("the in-kernel PIT needs the in-kernel irqchip: call createIrqchip() first");
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment config = a.allocate(Kvm.kvm_pit_config);
            config.set(ValueLayout.JAVA_INT, 0, Kvm.KVM_PIT_SPEAKER_DUMMY);
            Libc.ioctl(fd, Kvm.KVM_CREATE_PIT2, config, "KVM_CREATE_PIT2");
        }
        pit = true;
    }

    /**
     * Sets the level of interrupt line {@code gsi} of the in-kernel irqchip (KVM_IRQ_LINE): GSIs 0-15 reach the
     * PIC pair and the IOAPIC, 16-23 the IOAPIC (KVM's default routing). An edge is a 1 then a 0.
     */
    public void irqLine(int gsi, boolean high) {
        requireIrqchip("KVM_IRQ_LINE");
        try (Arena a = Arena.ofConfined()) {
            MemorySegment level = a.allocate(Kvm.kvm_irq_level);
            level.set(ValueLayout.JAVA_INT, off(Kvm.kvm_irq_level, "irq"), gsi);
            level.set(ValueLayout.JAVA_INT, off(Kvm.kvm_irq_level, "level"), high ? 1 : 0);
            Libc.ioctl(fd, Kvm.KVM_IRQ_LINE, level, "KVM_IRQ_LINE");
        }
    }

    /**
     * Makes every write to {@code eventFd} an edge on {@code gsi} inside KVM (KVM_IRQFD): a device thread raises
     * an interrupt with one eventfd write, no ioctl. {@code assign=false} removes it.
     */
    public void irqfd(int eventFd, int gsi, boolean assign) {
        requireIrqchip("KVM_IRQFD");
        try (Arena a = Arena.ofConfined()) {
            MemorySegment irqfd = a.allocate(Kvm.kvm_irqfd);
            irqfd.set(ValueLayout.JAVA_INT, off(Kvm.kvm_irqfd, "fd"), eventFd);
            irqfd.set(ValueLayout.JAVA_INT, off(Kvm.kvm_irqfd, "gsi"), gsi);
            irqfd.set(ValueLayout.JAVA_INT, off(Kvm.kvm_irqfd, "flags"), assign ? 0 : Kvm.KVM_IRQFD_FLAG_DEASSIGN);
            Libc.ioctl(fd, Kvm.KVM_IRQFD, irqfd, "KVM_IRQFD");
        }
    }

    /**
     * Makes a guest write of {@code length} bytes equal to {@code datamatch} at MMIO address {@code address} signal
     * {@code eventFd} inside KVM (KVM_IOEVENTFD) instead of exiting to the vCPU thread: a virtqueue notify wakes
     * its device thread directly. {@code assign=false} removes it (same arguments).
     */
    public void ioeventfd(long address, int length, long datamatch, int eventFd, boolean assign) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment e = a.allocate(Kvm.kvm_ioeventfd);
            e.set(ValueLayout.JAVA_LONG, off(Kvm.kvm_ioeventfd, "datamatch"), datamatch);
            e.set(ValueLayout.JAVA_LONG, off(Kvm.kvm_ioeventfd, "addr"), address);
            e.set(ValueLayout.JAVA_INT, off(Kvm.kvm_ioeventfd, "len"), length);
            e.set(ValueLayout.JAVA_INT, off(Kvm.kvm_ioeventfd, "fd"), eventFd);
            e.set(ValueLayout.JAVA_INT, off(Kvm.kvm_ioeventfd, "flags"),
                    Kvm.KVM_IOEVENTFD_FLAG_DATAMATCH | (assign ? 0 : Kvm.KVM_IOEVENTFD_FLAG_DEASSIGN));
            Libc.ioctl(fd, Kvm.KVM_IOEVENTFD, e, "KVM_IOEVENTFD");
        }
    }

    private void requireIrqchip(String call) {
        if (!irqchip) {
            throw new IllegalStateException(call + " needs the in-kernel irqchip: call createIrqchip() first");
        }
    }

    public boolean hasIrqchip() {
        return irqchip;
    }

    public boolean hasPit() {
        return pit;
    }

    /**
     * Adds guest memory: guest-physical {@code gpa} is backed by {@code host} (page aligned). With
     * {@code dirtyLog}, KVM records written pages for {@link #dirtyPages(int)}. Returns the slot number.
     */
    public synchronized MemorySlot addMemory(long gpa, MemorySegment host, boolean dirtyLog) {
        checkOpen();
        int slot = 0;
        while (slots.containsKey(slot)) {
            slot++;
        }
        MemorySlot s = new MemorySlot(slot, gpa, host, dirtyLog);
        for (MemorySlot other : slots.values()) {
            if (other.overlaps(gpa, host.byteSize())) {
                throw new IllegalArgumentException("guest memory at 0x" + Long.toHexString(gpa) + " overlaps " + other);
            }
        }
        setRegion(slot, dirtyLog ? Kvm.KVM_MEM_LOG_DIRTY_PAGES : 0, gpa, host.byteSize(), host.address());
        slots.put(slot, s);
        slotArray = slots.values().toArray(MemorySlot[]::new);
        return s;
    }

    /** Removes a slot (KVM drops its mappings; the host memory is untouched). */
    public synchronized void removeMemory(int slot) {
        MemorySlot s = slots.remove(slot);
        if (s == null) {
            throw new IllegalArgumentException("no memory slot " + slot);
        }
        slotArray = slots.values().toArray(MemorySlot[]::new);
        setRegion(slot, 0, s.guestPhysAddr(), 0, 0);
    }

    /** The memory slot holding guest-physical {@code gpa}, or null (a device address, or nothing). */
    MemorySlot slotContaining(long gpa) {
        for (MemorySlot s : slotArray) {
            if (s.overlaps(gpa, 1)) {
                return s;
            }
        }
        return null;
    }

    public synchronized List<MemorySlot> memorySlots() {
        return List.copyOf(slots.values());
    }

    private void setRegion(int slot, int flags, long gpa, long size, long userAddr) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment r = a.allocate(Kvm.kvm_userspace_memory_region);
            r.set(ValueLayout.JAVA_INT, off(Kvm.kvm_userspace_memory_region, "slot"), slot);
            r.set(ValueLayout.JAVA_INT, off(Kvm.kvm_userspace_memory_region, "flags"), flags);
            r.set(ValueLayout.JAVA_LONG, off(Kvm.kvm_userspace_memory_region, "guest_phys_addr"), gpa);
            r.set(ValueLayout.JAVA_LONG, off(Kvm.kvm_userspace_memory_region, "memory_size"), size);
            r.set(ValueLayout.JAVA_LONG, off(Kvm.kvm_userspace_memory_region, "userspace_addr"), userAddr);
            Libc.ioctl(fd, Kvm.KVM_SET_USER_MEMORY_REGION, r, "KVM_SET_USER_MEMORY_REGION");
        }
    }

    /**
     * KVM_GET_DIRTY_LOG: the pages of {@code slot} written since the slot was added or since the last call
     * (KVM clears the log as it reports it), as a bitmap with one bit per 4 KiB page (bit i of word i/64).
     */
    public synchronized long[] dirtyPages(int slot) {
        MemorySlot s = slots.get(slot);
        if (s == null || !s.dirtyLog()) {
            throw new IllegalArgumentException("memory slot " + slot + " does not exist or has no dirty logging");
        }
        long words = (s.pages() + 63) / 64;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment bitmap = a.allocate(words * 8, 8);
            MemorySegment log = a.allocate(Kvm.kvm_dirty_log);
            log.set(ValueLayout.JAVA_INT, off(Kvm.kvm_dirty_log, "slot"), slot);
            log.set(ValueLayout.ADDRESS, off(Kvm.kvm_dirty_log, "dirty_bitmap"), bitmap);
            Libc.ioctl(fd, Kvm.KVM_GET_DIRTY_LOG, log, "KVM_GET_DIRTY_LOG");
            return bitmap.toArray(ValueLayout.JAVA_LONG);
        }
    }

    /** Creates vCPU {@code id} with the host's supported CPUID (so long mode, SSE... are visible to the guest). */
    public synchronized Vcpu createVcpu(int id) {
        checkOpen();
        int vcpuFd = Libc.ioctl(fd, Kvm.KVM_CREATE_VCPU, id, "KVM_CREATE_VCPU");
        Vcpu vcpu;
        try {
            vcpu = new Vcpu(this, id, vcpuFd, kvm.vcpuMmapSize());
        } catch (RuntimeException e) {
            Libc.close(vcpuFd);
            throw e;
        }
        vcpus.add(vcpu);
        try {
            vcpu.setCpuid(kvm.supportedCpuid());
        } catch (RuntimeException e) {
            close();
            throw e;
        }
        return vcpu;
    }

    public synchronized List<Vcpu> vcpus() {
        return Collections.unmodifiableList(new ArrayList<>(vcpus));
    }

    // ---- VM-wide state ------------------------------------------------------------------------------------------

    byte[] getBlob(long request, String name, StructLayout layout) {
        return StructIoctls.get(fd, request, name, layout.byteSize());
    }

    void setBlob(long request, String name, StructLayout layout, byte[] blob) {
        StructIoctls.set(fd, request, name, layout, blob);
    }

    /** KVM_GET_IRQCHIP for {@code chipId} (KVM_IRQCHIP_PIC_MASTER, _SLAVE or _IOAPIC): the whole kvm_irqchip. */
    byte[] getIrqchip(int chipId) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(Kvm.kvm_irqchip);
            buf.set(ValueLayout.JAVA_INT, 0, chipId);
            Libc.ioctl(fd, Kvm.KVM_GET_IRQCHIP, buf, "KVM_GET_IRQCHIP");
            return buf.toArray(ValueLayout.JAVA_BYTE);
        }
    }

    private int xsaveSize;

    /** Bytes of a vCPU's XSAVE area here: KVM_CAP_XSAVE2's answer on this VM, or the legacy 4 KiB. */
    synchronized int xsaveSize() {
        if (xsaveSize == 0) {
            int xsave2 = checkExtension(Kvm.KVM_CAP_XSAVE2);
            xsaveSize = Math.max((int) Kvm.kvm_xsave.byteSize(), xsave2);
        }
        return xsaveSize;
    }

    /** Whether KVM_GET_XSAVE2 must be used (and may return more than 4 KiB). */
    boolean hasXsave2() {
        return checkExtension(Kvm.KVM_CAP_XSAVE2) > 0;
    }

    /**
     * Saves PIT, clock and the three interrupt controllers. The vCPUs must be stopped (paused or not running)
     * so that the state is consistent with theirs.
     */
    public synchronized VmState saveState() {
        checkOpen();
        requireDevices();
        byte[] pitState = getBlob(Kvm.KVM_GET_PIT2, "KVM_GET_PIT2", Kvm.kvm_pit_state2);
        byte[] clock = getBlob(Kvm.KVM_GET_CLOCK, "KVM_GET_CLOCK", Kvm.kvm_clock_data);
        // KVM_GET_CLOCK reports KVM_CLOCK_TSC_STABLE as information; KVM_SET_CLOCK must not be given it back
        // (what Firecracker does too). KVM_CLOCK_REALTIME stays: it lets KVM advance the clock by the time the
        // snapshot spent on disk.
        MemorySegment c = MemorySegment.ofArray(clock);
        long flagsOff = off(Kvm.kvm_clock_data, "flags");
        c.set(ValueLayout.JAVA_INT_UNALIGNED, flagsOff,
                c.get(ValueLayout.JAVA_INT_UNALIGNED, flagsOff) & ~Kvm.KVM_CLOCK_TSC_STABLE);
        return new VmState(pitState, clock, getIrqchip(Kvm.KVM_IRQCHIP_PIC_MASTER),
                getIrqchip(Kvm.KVM_IRQCHIP_PIC_SLAVE), getIrqchip(Kvm.KVM_IRQCHIP_IOAPIC));
    }

    /** Restores VM-wide state in the order KVM needs it: PIT, clock, irqchips. Before the vCPUs' state. */
    public synchronized void restoreState(VmState state) {
        checkOpen();
        requireDevices();
        checkChip(state.picMaster(), Kvm.KVM_IRQCHIP_PIC_MASTER, "picMaster");
        checkChip(state.picSlave(), Kvm.KVM_IRQCHIP_PIC_SLAVE, "picSlave");
        checkChip(state.ioapic(), Kvm.KVM_IRQCHIP_IOAPIC, "ioapic");
        setBlob(Kvm.KVM_SET_PIT2, "KVM_SET_PIT2", Kvm.kvm_pit_state2, state.pit());
        setBlob(Kvm.KVM_SET_CLOCK, "KVM_SET_CLOCK", Kvm.kvm_clock_data, state.clock());
        setBlob(Kvm.KVM_SET_IRQCHIP, "KVM_SET_IRQCHIP", Kvm.kvm_irqchip, state.picMaster());
        setBlob(Kvm.KVM_SET_IRQCHIP, "KVM_SET_IRQCHIP", Kvm.kvm_irqchip, state.picSlave());
        setBlob(Kvm.KVM_SET_IRQCHIP, "KVM_SET_IRQCHIP", Kvm.kvm_irqchip, state.ioapic());
    }

    /** VM state then every vCPU's, with all vCPUs stopped (paused run loops or none running). */
    public synchronized MachineState saveMachineState() {
        VmState vmState = saveState();
        List<VcpuState> states = new ArrayList<>();
        for (Vcpu v : vcpus) {
            states.add(v.saveState());
        }
        return new MachineState(vmState, states);
    }

    /** Restores a machine state into this VM, whose vCPUs 0..n-1 are created and not running. */
    public synchronized void restoreMachineState(MachineState state) {
        if (state.vcpus().size() != vcpus.size()) {
            throw new IllegalArgumentException("machine state has " + state.vcpus().size() + " vCPUs, this VM "
                    + vcpus.size());
        }
        restoreState(state.vm());
        for (int i = 0; i < vcpus.size(); i++) {
            vcpus.get(i).restoreState(state.vcpus().get(i));
        }
    }

    private static void checkChip(byte[] blob, int expected, String name) {
        int id = MemorySegment.ofArray(blob).get(ValueLayout.JAVA_INT_UNALIGNED, 0);
        if (id != expected) {
            throw new IllegalArgumentException("VM state " + name + " has chip_id " + id + ", expected " + expected);
        }
    }

    private void requireDevices() {
        if (!irqchip || !pit) {
            throw new IllegalStateException("VM state save/restore needs the in-kernel irqchip and PIT "
                    + "(createIrqchip() and createPit() before the vCPUs)");
        }
    }

    static long off(StructLayout layout, String field) {
        return layout.byteOffset(MemoryLayout.PathElement.groupElement(field));
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("VM is closed");
        }
    }

    public synchronized boolean isClosed() {
        return closed;
    }

    /** Closes every vCPU (unmapping its kvm_run page) and the VM fd. Idempotent. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        ReleaseSteps release = new ReleaseSteps();
        for (Vcpu v : vcpus) {
            release.run(v::close);
        }
        vcpus.clear();
        slots.clear();
        slotArray = new MemorySlot[0];
        release.run(() -> Libc.close(fd));
        release.throwFirstFailure();
    }
}
