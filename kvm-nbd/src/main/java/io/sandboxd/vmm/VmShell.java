package io.sandboxd.vmm;

import io.sandboxd.vmm.kvm.Vm;

/**
 * A VM made ahead of time: VM fd, in-kernel irqchip and PIT, vCPU fds with their kvm_run pages and CPUID, but no
 * memory and no state. Pools keep these ready so that a restore only adds memory slots and machine state (the
 * create path in DESIGN.md, step 2). {@link Vmm#restore(VmShell, VmSnapshot, MemoryBackend,
 * io.sandboxd.vmm.kvm.ExitHandler)} consumes it; closing a shell that was never used releases it.
 */
public final class VmShell implements AutoCloseable {
    private final Vm vm;
    private boolean taken;

    VmShell(Vm vm) {
        this.vm = vm;
    }

    public int vcpus() {
        return vm.vcpus().size();
    }

    synchronized Vm take() {
        if (taken) {
            throw new IllegalStateException("this VM shell was already used by a restore");
        }
        taken = true;
        return vm;
    }

    @Override
    public synchronized void close() {
        if (!taken) {
            taken = true;
            vm.close();
        }
    }
}
