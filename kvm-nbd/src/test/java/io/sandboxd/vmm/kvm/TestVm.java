package io.sandboxd.vmm.kvm;

import io.sandboxd.ffi.Libc;
import io.sandboxd.vmm.arch.x86.X86Modes;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A one-vCPU long-mode VM around a hand-assembled program at {@link #CODE}, for tests: anonymous memory, optional
 * in-kernel irqchip + PIT, a stack below {@link #STACK}. Closing it closes the VM, then unmaps the memory.
 */
public final class TestVm implements AutoCloseable {
    public static final int CODE = 0x1000;
    public static final long STACK = 0x80000;
    /** Port the test programs write to when done (like QEMU's isa-debug-exit); with an irqchip HLT never exits. */
    public static final int DONE_PORT = 0xf4;
    public static final int SERIAL = 0x3f8;

    public final KvmSystem kvm;
    public final Vm vm;
    public final MemorySegment memory;
    public final Vcpu vcpu;

    public TestVm(byte[] code, long memoryBytes, boolean irqchip) {
        kvm = KvmSystem.open();
        memory = Libc.mmap(MemorySegment.NULL, memoryBytes, Libc.PROT_READ | Libc.PROT_WRITE,
                Libc.MAP_PRIVATE | Libc.MAP_ANONYMOUS, -1, 0);
        vm = kvm.createVm();
        if (irqchip) {
            vm.createIrqchip();
            vm.createPit();
        }
        vm.addMemory(0, memory, true);
        MemorySegment.copy(code, 0, memory, ValueLayout.JAVA_BYTE, CODE, code.length);
        vcpu = vm.createVcpu(0);
        X86Modes.longMode(vcpu, memory, CODE, STACK, new Regs());
    }

    @Override
    public void close() {
        try {
            vm.close();
        } finally {
            Libc.munmap(memory);
            kvm.close();
        }
    }
}
