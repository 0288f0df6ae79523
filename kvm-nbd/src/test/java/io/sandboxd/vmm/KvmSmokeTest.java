package io.sandboxd.vmm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.sandboxd.ffi.Libc;
import io.sandboxd.vmm.arch.x86.X86Modes;
import io.sandboxd.vmm.kvm.KvmSystem;
import io.sandboxd.vmm.kvm.Regs;
import io.sandboxd.vmm.kvm.Vcpu;
import io.sandboxd.vmm.kvm.VcpuExit;
import io.sandboxd.vmm.kvm.Vm;
import java.io.ByteArrayOutputStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.function.BiConsumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The smallest end-to-end check of the KVM bindings: one VM, one vCPU, one anonymous memory slot, and two
 * hand-assembled guests (real mode and 64-bit long mode) that write to the serial port and halt.
 */
@ExtendWith(KvmExtension.class)
class KvmSmokeTest {
    private static final long MEMORY = 2L << 20;
    private static final int CODE = 0x1000;
    private static final int SERIAL = 0x3f8;

    /**
     * Puts {@code code} at {@link #CODE} in a new VM with one anonymous memory slot and one vCPU, and hands the vCPU
     * (mode not yet set) and the memory to {@code test}; the VM and the memory are released afterwards.
     */
    private static void inFreshVm(KvmSystem kvm, byte[] code, BiConsumer<Vcpu, MemorySegment> test) {
        MemorySegment mem = Libc.mmap(MemorySegment.NULL, MEMORY, Libc.PROT_READ | Libc.PROT_WRITE,
                Libc.MAP_PRIVATE | Libc.MAP_ANONYMOUS, -1, 0);
        try (Vm vm = kvm.createVm()) {
            vm.addMemory(0, mem, false);
            MemorySegment.copy(code, 0, mem, ValueLayout.JAVA_BYTE, CODE, code.length);
            test.accept(vm.createVcpu(0), mem);
        } finally {
            Libc.munmap(mem);
        }
    }

    /** Runs until HLT, collecting the bytes written to the serial port; every exit before HLT must be that. */
    private static byte[] runToHalt(Vcpu vcpu) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int exits = 0; exits < 100; exits++) {
            VcpuExit exit = vcpu.run();
            switch (exit) {
                case VcpuExit.Halt h -> {
                    return out.toByteArray();
                }
                case VcpuExit.PortIo io when !io.in() && io.port() == SERIAL && io.size() == 1 ->
                        out.writeBytes(io.bytes());
                default -> throw new AssertionError("unexpected exit " + exit + " after output '" + out + "'");
            }
        }
        throw new AssertionError("guest did not halt");
    }

    @Test
    void realModeGuestWritesToTheSerialPortAndHalts(KvmSystem kvm) {
        byte[] code = {
            (byte) 0xba, (byte) 0xf8, 0x03,   // mov dx, 0x3f8
            0x00, (byte) 0xd8,                // add al, bl        (2 + 3)
            0x04, 0x30,                       // add al, '0'
            (byte) 0xee,                      // out dx, al        -> '5'
            (byte) 0xb0, 0x0a,                // mov al, '\n'
            (byte) 0xee,                      // out dx, al
            (byte) 0xf4,                      // hlt
        };
        inFreshVm(kvm, code, (vcpu, mem) -> {
            X86Modes.realMode(vcpu, CODE, new Regs().set("rax", 2).set("rbx", 3));

            assertArrayEquals("5\n".getBytes(), runToHalt(vcpu));
            Regs regs = vcpu.getRegs();
            assertEquals('\n', regs.rax() & 0xff);
            assertEquals(CODE + code.length, regs.rip(), "RIP is past the HLT");
        });
    }

    @Test
    void longModeGuestWritesToTheSerialPortStoresToMemoryAndHalts(KvmSystem kvm) {
        byte[] code = {
            0x66, (byte) 0xba, (byte) 0xf8, 0x03,                          // mov dx, 0x3f8
            (byte) 0xb0, 'O', (byte) 0xee,                                 // mov al, 'O'; out dx, al
            (byte) 0xb0, 'K', (byte) 0xee,                                 // mov al, 'K'; out dx, al
            0x48, (byte) 0xb8, (byte) 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, // mov rax, 0x1122334455667788
            0x48, (byte) 0x89, 0x04, 0x25, 0x00, (byte) 0x80, 0x10, 0x00,  // mov [0x108000], rax (past 1 MiB: paging)
            0x50,                                                          // push rax (stack through the page tables)
            0x5b,                                                          // pop rbx
            (byte) 0xf4,                                                   // hlt
        };
        inFreshVm(kvm, code, (vcpu, mem) -> {
            X86Modes.longMode(vcpu, mem, CODE, 0x80000, new Regs());

            assertArrayEquals("OK".getBytes(), runToHalt(vcpu));
            Regs regs = vcpu.getRegs();
            assertEquals(0x1122334455667788L, regs.rax());
            assertEquals(0x1122334455667788L, regs.rbx(), "push/pop through the stack");
            assertEquals(0x80000, regs.get("rsp"));
            assertEquals(CODE + code.length, regs.rip(), "RIP is past the HLT");
            assertEquals(0x1122334455667788L, mem.get(ValueLayout.JAVA_LONG, 0x108000), "store landed in guest memory");
            var sregs = vcpu.getSregs();
            assertEquals(1L << 10, sregs.efer() & (1L << 10), "EFER.LMA: the vCPU really is in long mode");
        });
    }
}
