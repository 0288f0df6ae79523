package io.sandboxd.vmm.kvm;

import io.sandboxd.ffi.Libc;
import io.sandboxd.vmm.arch.x86.X86Modes;
import java.io.ByteArrayOutputStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.atomic.AtomicInteger;

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

    /**
     * The devices of the test programs: bytes written to {@link #SERIAL} are collected in {@code out}; STOP at
     * {@link #DONE_PORT}, or after {@code stopAfter} more outputs when that is > 0; any other exit fails the vCPU.
     */
    public static ExitHandler serialOutput(ByteArrayOutputStream out, int stopAfter) {
        AtomicInteger outputs = new AtomicInteger();
        return (vcpu, exit) -> {
            if (exit instanceof VcpuExit.PortIo io && !io.in() && io.port() == SERIAL) {
                synchronized (out) {
                    out.writeBytes(io.bytes());
                }
                return stopAfter > 0 && outputs.incrementAndGet() == stopAfter ? ExitHandler.Action.STOP
                        : ExitHandler.Action.CONTINUE;
            }
            if (exit instanceof VcpuExit.PortIo io && io.port() == DONE_PORT) {
                return ExitHandler.Action.STOP;
            }
            return ExitHandler.unexpected(vcpu, exit);
        };
    }

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
