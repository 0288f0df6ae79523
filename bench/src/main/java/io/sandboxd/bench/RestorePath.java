package io.sandboxd.bench;

import io.sandboxd.vmm.GuestRegion;
import io.sandboxd.vmm.arch.x86.X86Modes;
import io.sandboxd.vmm.kvm.KvmSystem;
import io.sandboxd.vmm.kvm.Regs;
import io.sandboxd.vmm.kvm.Vcpu;
import io.sandboxd.vmm.kvm.VcpuExit;
import io.sandboxd.vmm.kvm.Vm;
import io.sandboxd.vmm.memory.MappedGuestMemory;
import io.sandboxd.vmm.memory.MemoryBackends;
import io.sandboxd.vmm.memory.MemoryOptions;
import io.sandboxd.vmm.snapshot.MemoryImage;
import java.io.IOException;

/**
 * One restore as the benchmarks measure it: guest memory from the image by a backend, a VM with one vCPU, the
 * memory slots, the vCPU state (real mode at the program), and KVM_RUN until the guest's first instruction (an
 * OUT) exits to us. The VM has no in-kernel irqchip: the C floor does not create one either.
 */
final class RestorePath {
    /** What a restore made; closed outside the measured time. */
    record Restored(Vm vm, MappedGuestMemory memory) implements AutoCloseable {
        @Override
        public void close() {
            try {
                vm.close();
            } finally {
                memory.close();
            }
        }
    }

    private RestorePath() {
    }

    /**
     * Records the working set of {@code image} the way a template build does: one uffd restore runs the guest to
     * its first exit and saves the pages it touched next to the image. Later uffd restores prefetch them.
     */
    static void recordWorkingSet(KvmSystem kvm, MemoryImage image) throws IOException {
        if (!image.workingSetPath().toFile().exists()) {
            try (Restored r = restore(kvm, MemoryBackends.UFFD, image)) {
                r.memory().saveWorkingSet();
            }
        }
    }

    static Restored restore(KvmSystem kvm, MemoryBackends backend, MemoryImage image) throws IOException {
        return restore(null, kvm, backend, image);
    }

    /** A VM with its vCPU made ahead of time, as the orchestrator's pool holds them (DESIGN.md, create path step 2). */
    static Vm shell(KvmSystem kvm) {
        Vm vm = kvm.createVm();
        try {
            vm.createVcpu(0);
            return vm;
        } catch (RuntimeException e) {
            vm.close();
            throw e;
        }
    }

    /** A restore into {@code shell} (from {@link #shell}), or into a VM made here when it is null. */
    static Restored restore(Vm shell, KvmSystem kvm, MemoryBackends backend, MemoryImage image) throws IOException {
        MappedGuestMemory memory = backend.create(image, MemoryOptions.DEFAULT);
        Vm vm = shell;
        try {
            if (vm == null) {
                vm = kvm.createVm();
            }
            for (GuestRegion r : memory.regions()) {
                vm.addMemory(r.guestPhysAddr(), r.host(), r.kvmDirtyLog());
            }
            Vcpu vcpu = shell != null ? vm.vcpus().get(0) : vm.createVcpu(0);
            X86Modes.realMode(vcpu, BenchImages.ENTRY, new Regs().set("rflags", 2));
            VcpuExit exit = vcpu.run();
            if (!(exit instanceof VcpuExit.PortIo io) || io.port() != BenchImages.DONE_PORT) {
                throw new IllegalStateException("the restored guest's first instruction should exit on port 0x10: " + exit);
            }
            return new Restored(vm, memory);
        } catch (RuntimeException e) {
            if (vm != null) {
                vm.close();
            }
            memory.close();
            throw e;
        }
    }
}
