package io.sandboxd.vmm;

import io.sandboxd.vmm.kvm.ExitHandler;
import io.sandboxd.vmm.kvm.MemorySlot;
import io.sandboxd.vmm.kvm.ReleaseSteps;
import io.sandboxd.vmm.kvm.Vcpu;
import io.sandboxd.vmm.kvm.VcpuThread;
import io.sandboxd.vmm.kvm.Vm;
import io.sandboxd.vmm.snapshot.MemoryImage;
import java.time.Duration;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Optional;

/**
 * A VM with its guest memory and one run-loop thread per vCPU: what {@link Vmm#restore} returns. It owns all of
 * them; {@link #close()} (or {@link Vmm#destroy}) stops the vCPUs, closes the VM and vCPU fds and unmaps the
 * kvm_run pages, then lets the memory backend release the guest memory.
 */
public final class RunningVm implements AutoCloseable {
    private static final Duration STOP_TIMEOUT = Duration.ofSeconds(10);

    private final Vm vm;
    private final GuestMemory memory;
    private final List<VcpuThread> threads = new ArrayList<>();
    private MemoryImage parent;
    private boolean closed;

    RunningVm(Vm vm, GuestMemory memory, MemoryImage parent) {
        this.vm = vm;
        this.memory = memory;
        this.parent = parent;
    }

    void start(ExitHandler devices) {
        for (Vcpu v : vm.vcpus()) {
            threads.add(new VcpuThread(v, devices));
        }
        for (VcpuThread t : threads) {
            t.start();
        }
    }

    public Vm vm() {
        return vm;
    }

    public GuestMemory memory() {
        return memory;
    }

    public List<Vcpu> vcpus() {
        return vm.vcpus();
    }

    /** The memory image this VM's memory came from (the parent of its next snapshot), or null after a boot. */
    public synchronized MemoryImage parentImage() {
        return parent;
    }

    synchronized void parentImage(MemoryImage image) {
        parent = image;
    }

    /**
     * Stops every vCPU between instructions and leaves it with no half-done I/O, so the machine state can be
     * read. Throws if a vCPU failed (its state is not worth saving).
     */
    public synchronized void pause(Duration timeout) {
        for (VcpuThread t : threads) {
            if (!t.quiesce(timeout)) {
                throw new IllegalStateException("vCPU " + t.vcpu().id() + " failed: " + t.failure().getMessage(),
                        t.failure());
            }
        }
    }

    /** Lets paused vCPUs run on (vCPUs whose loop ended stay ended). */
    public synchronized void resume() {
        for (VcpuThread t : threads) {
            if (t.state() == VcpuThread.State.PAUSED) {
                t.resume();
            }
        }
    }

    /** Waits until every vCPU loop has ended by itself (a device said STOP, or the guest failed). */
    public boolean awaitFinished(Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        for (VcpuThread t : threads) {
            if (!t.join(Duration.ofNanos(Math.max(0, deadline - System.nanoTime())))) {
                return false;
            }
        }
        return true;
    }

    private volatile RuntimeException vmFailure;

    /** Why this VM failed, if it did: its memory failed, or a vCPU failed (a guest error, an exception in a device). */
    public Optional<RuntimeException> failure() {
        RuntimeException f = vmFailure;
        if (f != null) {
            return Optional.of(f);
        }
        return threads.stream().map(VcpuThread::failure).filter(x -> x != null).findFirst();
    }

    /**
     * Marks the VM failed (its memory backend lost a page source, say) and stops its vCPUs. Callable from any
     * thread, including the page server's: the stopping happens on a thread of its own, because a vCPU may be
     * blocked on a page only that caller can release.
     */
    public void fail(RuntimeException cause) {
        synchronized (this) {
            if (vmFailure != null || closed) {
                return;
            }
            vmFailure = cause;
        }
        Thread.ofPlatform().name("vm-fail-" + vm.fd()).daemon(true).start(() -> {
            for (VcpuThread t : List.copyOf(threads)) {
                try {
                    t.stop(STOP_TIMEOUT);
                } catch (RuntimeException e) {
                    cause.addSuppressed(e);
                }
            }
        });
    }

    /**
     * Pages the guest wrote since restore or the last call, from KVM's dirty log of every logged region, as image
     * page numbers (bit i = the page at image offset i * 4096). Reading the log clears it.
     */
    public synchronized BitSet takeDirtyPages() {
        BitSet dirty = new BitSet();
        for (GuestRegion r : memory.regions()) {
            if (!r.kvmDirtyLog()) {
                continue;
            }
            MemorySlot s = slotAt(r.guestPhysAddr());
            long firstPage = r.imageOffset() / MemorySlot.PAGE_SIZE;
            BitSet slotBits = BitSet.valueOf(vm.dirtyPages(s.slot()));
            for (int i = slotBits.nextSetBit(0); i >= 0 && i < s.pages(); i = slotBits.nextSetBit(i + 1)) {
                dirty.set(Math.toIntExact(firstPage + i));
            }
        }
        return dirty;
    }

    private MemorySlot slotAt(long gpa) {
        for (MemorySlot s : vm.memorySlots()) {
            if (s.guestPhysAddr() == gpa) {
                return s;
            }
        }
        throw new IllegalStateException("no memory slot at guest-physical 0x" + Long.toHexString(gpa));
    }

    public synchronized boolean isClosed() {
        return closed;
    }

    /** Stops the vCPUs and releases every fd and mapping of this VM. Idempotent. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        ReleaseSteps release = new ReleaseSteps();
        for (VcpuThread t : threads) {
            release.run(() -> t.stop(STOP_TIMEOUT));
        }
        if (release.firstFailure() != null) {
            // A vCPU thread that did not stop may still be in KVM_RUN or reading its kvm_run page: unmapping that
            // page or the guest memory under it would crash the JVM. Leak this VM's resources instead, loudly.
            throw new IllegalStateException("a vCPU of this VM did not stop; its fds and mappings are left in place "
                    + "rather than pulled from under a running thread", release.firstFailure());
        }
        release.run(vm::close); // before the memory goes: KVM must not map it any more
        release.run(memory::close);
        release.throwFirstFailure();
    }
}
