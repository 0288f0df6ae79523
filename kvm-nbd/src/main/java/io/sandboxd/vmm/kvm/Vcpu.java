package io.sandboxd.vmm.kvm;

import io.sandboxd.ffi.Errno;
import io.sandboxd.ffi.Kvm;
import io.sandboxd.ffi.Libc;
import io.sandboxd.ffi.NativeException;
import io.sandboxd.ffi.Signals;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;

/**
 * A KVM vCPU fd and its mmap'd {@code kvm_run} page. {@link #run()} enters the guest once and decodes why it
 * came back; it is called by one thread at a time (the vCPU's run loop, see {@link VcpuThread}). {@link #kick()}
 * may be called from any thread.
 */
public final class Vcpu {
    private final Vm vm;
    private final int id;
    private final int fd;
    private final MemorySegment runPage;
    private final KvmRun run;
    /** Linux thread id of the thread inside {@link #run()}, 0 when none. */
    private volatile int runningTid;
    private Thread tidOwner;
    private int tid;
    private boolean closed;

    Vcpu(Vm vm, int id, int fd, int mmapSize) {
        this.vm = vm;
        this.id = id;
        this.fd = fd;
        this.runPage = Libc.mmap(MemorySegment.NULL, mmapSize, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED, fd, 0);
        this.run = new KvmRun(runPage);
    }

    public int id() {
        return id;
    }

    public int fd() {
        return fd;
    }

    public Vm vm() {
        return vm;
    }

    /**
     * Runs the guest until the next exit that needs us. EINTR (a kick) is an exit like the others:
     * {@link VcpuExit.Interrupted}; it also clears {@code immediate_exit} so the next call runs the guest again.
     */
    public VcpuExit run() {
        Thread current = Thread.currentThread();
        if (current != tidOwner) { // gettid is a downcall: ask once per thread, not once per exit
            tidOwner = current;
            tid = Libc.gettid();
        }
        runningTid = tid;
        int r;
        try {
            r = Libc.ioctlRaw(fd, Kvm.KVM_RUN, 0L);
        } finally {
            runningTid = 0;
        }
        if (r < 0) {
            if (r == -Errno.EINTR || r == -Errno.EAGAIN) {
                run.clearImmediateExit();
                return new VcpuExit.Interrupted();
            }
            throw new NativeException("ioctl(KVM_RUN)", -r, "vCPU " + id);
        }
        return decodeExit();
    }

    private VcpuExit decodeExit() {
        int reason = run.exitReason();
        return switch (reason) {
            case Kvm.KVM_EXIT_IO -> new VcpuExit.PortIo(run.ioIn(), run.ioPort(), run.ioSize(), run.ioCount(), run.ioData());
            case Kvm.KVM_EXIT_MMIO -> {
                long address = run.mmioAddress();
                MemorySlot slot = vm.slotContaining(address);
                yield slot == null
                        ? new VcpuExit.Mmio(address, run.mmioLength(), run.mmioWrite(), run.mmioData())
                        : new VcpuExit.BadMemory(address, run.mmioLength(), run.mmioWrite(), slot);
            }
            case Kvm.KVM_EXIT_HLT -> new VcpuExit.Halt();
            case Kvm.KVM_EXIT_SHUTDOWN -> new VcpuExit.Shutdown(dump());
            case Kvm.KVM_EXIT_INTR -> {
                run.clearImmediateExit();
                yield new VcpuExit.Interrupted();
            }
            case Kvm.KVM_EXIT_INTERNAL_ERROR -> new VcpuExit.InternalError(run.internalSuberror(), run.internalData(), dump());
            case Kvm.KVM_EXIT_FAIL_ENTRY -> new VcpuExit.FailEntry(run.failEntryReason(), run.failEntryCpu(), dump());
            case Kvm.KVM_EXIT_SYSTEM_EVENT -> new VcpuExit.SystemEvent(run.systemEventType());
            default -> new VcpuExit.Other(reason, run.hardwareExitReason());
        };
    }

    /** Registers for an error report; never throws (a dump that fails says so). */
    VcpuDump dump() {
        try {
            return new VcpuDump(getRegs(), getSregs());
        } catch (RuntimeException e) {
            return new VcpuDump(new Regs(), Sregs.fromBytes(new byte[(int) Sregs.SIZE]));
        }
    }

    /**
     * Makes the vCPU leave KVM_RUN soon, from any thread: sets {@code immediate_exit} (covers a vCPU thread that
     * is about to enter KVM_RUN) and signals the thread if it is inside (covers one already running guest code).
     * The signal's handler is native and does nothing (see {@link KickSignal}).
     */
    public void kick() {
        int sig = KickSignal.number();
        run.requestImmediateExit();
        int tid = runningTid;
        if (tid != 0) {
            int r = Signals.tgkillRaw(Libc.getpid(), tid, sig);
            if (r < 0 && r != -Errno.ESRCH) { // ESRCH: the thread left KVM_RUN and exited meanwhile
                throw new NativeException("tgkill", -r, "vCPU " + id + " thread " + tid);
            }
        }
    }

    /** Sets immediate_exit: the next KVM_RUN completes pending I/O and returns EINTR without entering the guest. */
    void requestImmediateExit() {
        run.requestImmediateExit();
    }

    /**
     * Finishes an instruction left half-done by the last port I/O or MMIO exit (KVM completes it at the next
     * KVM_RUN), without running guest code. Needed before reading state from a vCPU whose loop ended on such an
     * exit. Fails if completing it needs another exit (string I/O mid-way), which the run loop must handle.
     */
    public void completePendingIo() {
        run.requestImmediateExit();
        VcpuExit exit = run();
        if (!(exit instanceof VcpuExit.Interrupted)) {
            throw new GuestFailedException(id, exit);
        }
    }

    // ---- registers and state ------------------------------------------------------------------------------------

    public Regs getRegs() {
        return Regs.fromBytes(getBlob(Kvm.KVM_GET_REGS, "KVM_GET_REGS", Kvm.kvm_regs));
    }

    public void setRegs(Regs regs) {
        setBlob(Kvm.KVM_SET_REGS, "KVM_SET_REGS", Kvm.kvm_regs, regs.toBytes());
    }

    public Sregs getSregs() {
        return Sregs.fromBytes(getBlob(Kvm.KVM_GET_SREGS, "KVM_GET_SREGS", Kvm.kvm_sregs));
    }

    public void setSregs(Sregs sregs) {
        setBlob(Kvm.KVM_SET_SREGS, "KVM_SET_SREGS", Kvm.kvm_sregs, sregs.toBytes());
    }

    /** KVM_GET_MP_STATE: KVM_MP_STATE_RUNNABLE, _HALTED, _UNINITIALIZED (an AP waiting for INIT/SIPI)... */
    public int getMpState() {
        return MemorySegment.ofArray(getBlob(Kvm.KVM_GET_MP_STATE, "KVM_GET_MP_STATE", Kvm.kvm_mp_state))
                .get(ValueLayout.JAVA_INT_UNALIGNED, 0);
    }

    /** KVM_SET_MP_STATE; e.g. RUNNABLE to start an application processor without the INIT/SIPI dance. */
    public void setMpState(int mpState) {
        byte[] mp = new byte[(int) Kvm.kvm_mp_state.byteSize()];
        MemorySegment.ofArray(mp).set(ValueLayout.JAVA_INT_UNALIGNED, 0, mpState);
        setBlob(Kvm.KVM_SET_MP_STATE, "KVM_SET_MP_STATE", Kvm.kvm_mp_state, mp);
    }

    /** KVM_GET_LAPIC: the local APIC's 1 KiB register page. */
    public byte[] getLapic() {
        return getBlob(Kvm.KVM_GET_LAPIC, "KVM_GET_LAPIC", Kvm.kvm_lapic_state);
    }

    /** KVM_SET_LAPIC with a register page from {@link #getLapic()}. */
    public void setLapic(byte[] lapic) {
        setBlob(Kvm.KVM_SET_LAPIC, "KVM_SET_LAPIC", Kvm.kvm_lapic_state, lapic);
    }

    /** KVM_GET_FPU: x87/SSE state in {@code kvm_fpu} form. */
    public byte[] getFpu() {
        return getBlob(Kvm.KVM_GET_FPU, "KVM_GET_FPU", Kvm.kvm_fpu);
    }

    /** KVM_SET_FPU. */
    public void setFpu(byte[] fpu) {
        setBlob(Kvm.KVM_SET_FPU, "KVM_SET_FPU", Kvm.kvm_fpu, fpu);
    }

    /** KVM_SET_CPUID2 with {@code kvm_cpuid2} bytes (header + entries). */
    public void setCpuid(byte[] cpuid2) {
        setVariable(Kvm.KVM_SET_CPUID2, "KVM_SET_CPUID2", cpuid2);
    }

    /** KVM_GET_CPUID2: the CPUID table this vCPU was given. */
    public byte[] getCpuid() {
        for (int n = 64; ; n *= 2) {
            byte[] buf = new byte[(int) Kvm.cpuid2Size(n)];
            MemorySegment.ofArray(buf).set(ValueLayout.JAVA_INT_UNALIGNED, 0, n);
            byte[] out = new byte[buf.length];
            int r = ioctlRaw(Kvm.KVM_GET_CPUID2, buf, out);
            if (r == -Errno.E2BIG && n < 4096) {
                continue;
            }
            if (r < 0) {
                throw new NativeException("ioctl(KVM_GET_CPUID2)", -r, "vCPU " + id);
            }
            int nent = MemorySegment.ofArray(out).get(ValueLayout.JAVA_INT_UNALIGNED, 0);
            return java.util.Arrays.copyOf(out, (int) Kvm.cpuid2Size(nent));
        }
    }

    /**
     * Saves the vCPU's complete state. The vCPU must not be running (its thread paused or finished) and must have
     * no half-done I/O (see {@link #completePendingIo()}; a paused {@link VcpuThread} has none).
     */
    public VcpuState saveState() {
        byte[] cpuid = getCpuid();
        int mpState = getMpState();
        byte[] regs = getBlob(Kvm.KVM_GET_REGS, "KVM_GET_REGS", Kvm.kvm_regs);
        byte[] sregs = getBlob(Kvm.KVM_GET_SREGS, "KVM_GET_SREGS", Kvm.kvm_sregs);
        byte[] xsave = vm.hasXsave2()
                ? getBlob(Kvm.KVM_GET_XSAVE2, "KVM_GET_XSAVE2", vm.xsaveSize())
                : getBlob(Kvm.KVM_GET_XSAVE, "KVM_GET_XSAVE", Kvm.kvm_xsave);
        byte[] xcrs = getBlob(Kvm.KVM_GET_XCRS, "KVM_GET_XCRS", Kvm.kvm_xcrs);
        byte[] debugregs = getBlob(Kvm.KVM_GET_DEBUGREGS, "KVM_GET_DEBUGREGS", Kvm.kvm_debugregs);
        byte[] lapic = getBlob(Kvm.KVM_GET_LAPIC, "KVM_GET_LAPIC", Kvm.kvm_lapic_state);
        int[] msrIndices = vm.kvm().saveableMsrs(this);
        long[] msrValues = getMsrs(msrIndices);
        byte[] events = getBlob(Kvm.KVM_GET_VCPU_EVENTS, "KVM_GET_VCPU_EVENTS", Kvm.kvm_vcpu_events);
        return new VcpuState(id, cpuid, mpState, regs, sregs, xsave, xcrs, debugregs, lapic, msrIndices, msrValues,
                events);
    }

    /**
     * Restores a saved state in the order KVM needs it: CPUID, MP state, regs, sregs, XSAVE, XCRs, debug regs,
     * LAPIC, MSRs, vCPU events (CPUID first because it decides which MSRs and XSAVE features are valid; events
     * last because they refer to the registers and APIC they interrupt).
     */
    public void restoreState(VcpuState s) {
        if (s.id() != id) {
            throw new IllegalArgumentException("state of vCPU " + s.id() + " cannot be restored into vCPU " + id);
        }
        setCpuid(s.cpuid());
        setMpState(s.mpState());
        setBlob(Kvm.KVM_SET_REGS, "KVM_SET_REGS", Kvm.kvm_regs, s.regs());
        setBlob(Kvm.KVM_SET_SREGS, "KVM_SET_SREGS", Kvm.kvm_sregs, s.sregs());
        if (s.xsave().length > vm.xsaveSize()) {
            throw new IllegalArgumentException("saved XSAVE area is " + s.xsave().length + " bytes; this host's KVM "
                    + "takes " + vm.xsaveSize() + " (snapshot from a CPU with more XSAVE features)");
        }
        setVariable(Kvm.KVM_SET_XSAVE, "KVM_SET_XSAVE", java.util.Arrays.copyOf(s.xsave(), vm.xsaveSize()));
        setBlob(Kvm.KVM_SET_XCRS, "KVM_SET_XCRS", Kvm.kvm_xcrs, s.xcrs());
        setBlob(Kvm.KVM_SET_DEBUGREGS, "KVM_SET_DEBUGREGS", Kvm.kvm_debugregs, s.debugregs());
        setBlob(Kvm.KVM_SET_LAPIC, "KVM_SET_LAPIC", Kvm.kvm_lapic_state, s.lapic());
        setMsrs(s.msrIndices(), s.msrValues());
        setBlob(Kvm.KVM_SET_VCPU_EVENTS, "KVM_SET_VCPU_EVENTS", Kvm.kvm_vcpu_events, s.events());
    }

    /** KVM_GET_MSRS for {@code indices}; fails naming the first MSR KVM would not read. */
    public long[] getMsrs(int[] indices) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = msrBuffer(a, indices, null);
            int read = Libc.ioctl(fd, Kvm.KVM_GET_MSRS, buf, "KVM_GET_MSRS");
            if (read != indices.length) {
                throw new IllegalStateException("KVM_GET_MSRS read " + read + " of " + indices.length
                        + " MSRs; it refused MSR 0x" + Integer.toHexString(indices[read]));
            }
            long[] values = new long[indices.length];
            for (int i = 0; i < indices.length; i++) {
                values[i] = buf.get(ValueLayout.JAVA_LONG, MSRS_ENTRIES + i * MSR_ENTRY + MSR_DATA);
            }
            return values;
        }
    }

    /** KVM_SET_MSRS; fails naming the first MSR KVM would not write. */
    public void setMsrs(int[] indices, long[] values) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = msrBuffer(a, indices, values);
            int written = Libc.ioctl(fd, Kvm.KVM_SET_MSRS, buf, "KVM_SET_MSRS");
            if (written != indices.length) {
                throw new IllegalStateException("KVM_SET_MSRS wrote " + written + " of " + indices.length
                        + " MSRs; it refused MSR 0x" + Integer.toHexString(indices[written]) + " = 0x"
                        + Long.toHexString(values[written]));
            }
        }
    }

    /** Returns how many of {@code indices} KVM_GET_MSRS reads (it stops at the first it refuses). */
    int readableMsrCount(int[] indices) {
        try (Arena a = Arena.ofConfined()) {
            int r = Libc.ioctlRaw(fd, Kvm.KVM_GET_MSRS, msrBuffer(a, indices, null));
            return Math.max(r, 0);
        }
    }

    private static final long MSRS_ENTRIES = Kvm.kvm_msrs.byteSize();
    private static final long MSR_ENTRY = Kvm.kvm_msr_entry.byteSize();
    private static final long MSR_INDEX = Vm.off(Kvm.kvm_msr_entry, "index");
    private static final long MSR_DATA = Vm.off(Kvm.kvm_msr_entry, "data");

    private static MemorySegment msrBuffer(Arena a, int[] indices, long[] values) {
        MemorySegment buf = a.allocate(Kvm.msrsSize(indices.length), 8);
        buf.set(ValueLayout.JAVA_INT, Vm.off(Kvm.kvm_msrs, "nmsrs"), indices.length);
        for (int i = 0; i < indices.length; i++) {
            buf.set(ValueLayout.JAVA_INT, MSRS_ENTRIES + i * MSR_ENTRY + MSR_INDEX, indices[i]);
            if (values != null) {
                buf.set(ValueLayout.JAVA_LONG, MSRS_ENTRIES + i * MSR_ENTRY + MSR_DATA, values[i]);
            }
        }
        return buf;
    }

    byte[] getBlob(long request, String name, StructLayout layout) {
        return getBlob(request, name, layout.byteSize());
    }

    byte[] getBlob(long request, String name, long size) {
        return StructIoctls.get(fd, request, name, size);
    }

    void setBlob(long request, String name, StructLayout layout, byte[] blob) {
        StructIoctls.set(fd, request, name, layout, blob);
    }

    /** An ioctl whose argument is a caller-built buffer (variable-length structs, XSAVE2). */
    void setVariable(long request, String name, byte[] blob) {
        StructIoctls.setVariable(fd, request, name, blob);
    }

    /** An in/out ioctl on a caller-built buffer; returns the buffer after the call. */
    byte[] exchange(long request, String name, byte[] blob) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(blob.length, 8);
            MemorySegment.copy(blob, 0, buf, ValueLayout.JAVA_BYTE, 0, blob.length);
            Libc.ioctl(fd, request, buf, name);
            return buf.toArray(ValueLayout.JAVA_BYTE);
        }
    }

    int ioctlRaw(long request, byte[] blob, byte[] out) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(blob.length, 8);
            MemorySegment.copy(blob, 0, buf, ValueLayout.JAVA_BYTE, 0, blob.length);
            int r = Libc.ioctlRaw(fd, request, buf);
            if (out != null) {
                MemorySegment.copy(buf, ValueLayout.JAVA_BYTE, 0, out, 0, Math.min(out.length, blob.length));
            }
            return r;
        }
    }

    /** Unmaps kvm_run and closes the fd. Called by {@link Vm#close()}, which owns its vCPUs. */
    void close() {
        if (closed) {
            return;
        }
        if (runningTid != 0) {
            throw new IllegalStateException("vCPU " + id + " is inside KVM_RUN on thread " + runningTid
                    + ": stop its run loop before closing the VM");
        }
        closed = true;
        try {
            Libc.munmap(runPage);
        } finally {
            Libc.close(fd);
        }
    }
}
