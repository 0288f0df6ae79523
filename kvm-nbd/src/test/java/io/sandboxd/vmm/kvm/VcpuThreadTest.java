package io.sandboxd.vmm.kvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sandboxd.vmm.KvmExtension;
import io.sandboxd.ffi.Libc;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

@ExtendWith(KvmExtension.class)
class VcpuThreadTest {
    private static final Duration BOUND = Duration.ofSeconds(5);

    /** loop: inc rax; jmp loop */
    private static final byte[] SPIN = {0x48, (byte) 0xff, (byte) 0xc0, (byte) 0xeb, (byte) 0xfb};

    @Test
    void aKickStopsASpinningGuestWithinBoundedTimeAndItResumes() throws Exception {
        for (boolean irqchip : new boolean[] {false, true}) {
            try (TestVm t = new TestVm(SPIN, 2 << 20, irqchip);
                 VcpuThread thread = new VcpuThread(t.vcpu, ExitHandler::unexpected).start()) {
                Thread.sleep(100);
                long started = System.nanoTime();
                assertTrue(thread.pause(BOUND), "paused");
                Duration took = Duration.ofNanos(System.nanoTime() - started);
                assertEquals(VcpuThread.State.PAUSED, thread.state());
                Regs first = t.vcpu.getRegs();
                assertTrue(first.rax() > 0, "the guest ran: " + first);
                assertTrue(first.rip() == TestVm.CODE || first.rip() == TestVm.CODE + 3, "stopped inside the loop: " + first);

                thread.resume();
                Thread.sleep(100);
                assertTrue(thread.pause(BOUND), "paused again");
                Regs second = t.vcpu.getRegs();
                assertTrue(second.rax() > first.rax(), "it ran on after resume: " + first.rax() + " -> " + second.rax());
                thread.stop(BOUND);
                assertEquals(VcpuThread.State.FINISHED, thread.state());
                assertEquals(null, thread.failure());
                System.out.println("kick -> paused in " + took.toMillis() + " ms (irqchip " + irqchip + ")");
            }
        }
    }

    /**
     * With the in-kernel irqchip a HLT never reaches userspace: the vCPU sleeps in KVM until an interrupt. A kick
     * still gets it out, and its saved MP state says HALTED, which a restore brings back.
     */
    @Test
    void aKickStopsAHaltedVcpuAndItsHaltedStateRoundTrips() throws Exception {
        byte[] code = {
            (byte) 0xfa,                                                  // cli
            (byte) 0xb8, 0x2a, 0x00, 0x00, 0x00,                          // mov eax, 42
            (byte) 0xf4,                                                  // hlt
            (byte) 0xeb, (byte) 0xfd,                                     // jmp hlt
        };
        MachineState saved;
        try (TestVm t = new TestVm(code, 2 << 20, true);
             VcpuThread thread = new VcpuThread(t.vcpu, ExitHandler::unexpected).start()) {
            Thread.sleep(100);
            assertTrue(thread.pause(BOUND), "a halted vCPU can be paused");
            assertEquals(io.sandboxd.ffi.Kvm.KVM_MP_STATE_HALTED, t.vcpu.getMpState());
            saved = t.vm.saveMachineState();
            assertEquals(42, saved.vcpus().get(0).generalRegisters().rax());
        }
        try (TestVm fresh = new TestVm(new byte[0], 2 << 20, true)) {
            fresh.vm.restoreMachineState(saved);
            assertEquals(io.sandboxd.ffi.Kvm.KVM_MP_STATE_HALTED, fresh.vcpu.getMpState());
            assertEquals(TestVm.CODE + 7, fresh.vcpu.getRegs().rip(), "RIP after the HLT");
        }
    }

    @Test
    void portAndMmioExitsAreDecodedAndAnswered() throws Exception {
        byte[] code = {
            0x66, (byte) 0xba, 0x60, 0x00,                                // mov dx, 0x60
            (byte) 0xec,                                                  // in al, dx        <- 0x42
            0x66, (byte) 0xba, (byte) 0xf8, 0x03,                         // mov dx, 0x3f8
            (byte) 0xee,                                                  // out dx, al       -> 0x42
            (byte) 0xb8, 0x78, 0x56, 0x34, 0x12,                          // mov eax, 0x12345678
            (byte) 0x89, 0x04, 0x25, 0x00, 0x00, 0x00, 0x10,              // mov [0x10000000], eax   (MMIO write)
            (byte) 0x8b, 0x1c, 0x25, 0x08, 0x00, 0x00, 0x10,              // mov ebx, [0x10000008]   (MMIO read)
            (byte) 0x88, (byte) 0xd8,                                     // mov al, bl
            (byte) 0xee,                                                  // out dx, al       -> 0x99
            (byte) 0xe6, (byte) TestVm.DONE_PORT,                         // out 0xf4, al     (done)
        };
        List<String> seen = new CopyOnWriteArrayList<>();
        ExitHandler handler = (vcpu, exit) -> {
            switch (exit) {
                case VcpuExit.PortIo io when io.in() && io.port() == 0x60 -> {
                    io.data().set(ValueLayout.JAVA_BYTE, 0, (byte) 0x42);
                    seen.add("in 60");
                }
                case VcpuExit.PortIo io when !io.in() && io.port() == TestVm.SERIAL ->
                        seen.add("out " + Integer.toHexString(io.bytes()[0] & 0xff));
                case VcpuExit.PortIo io when io.port() == TestVm.DONE_PORT -> {
                    seen.add("done");
                    return ExitHandler.Action.STOP;
                }
                case VcpuExit.Mmio m when m.write() -> seen.add("mmio write " + Long.toHexString(m.address()) + " "
                        + m.length() + " " + Integer.toHexString(m.data().get(ValueLayout.JAVA_INT_UNALIGNED, 0)));
                case VcpuExit.Mmio m -> {
                    seen.add("mmio read " + Long.toHexString(m.address()) + " " + m.length());
                    m.data().set(ValueLayout.JAVA_INT_UNALIGNED, 0, 0x99);
                }
                default -> ExitHandler.unexpected(vcpu, exit);
            }
            return ExitHandler.Action.CONTINUE;
        };
        try (TestVm t = new TestVm(code, 2 << 20, true);
             VcpuThread thread = new VcpuThread(t.vcpu, handler).start()) {
            assertTrue(thread.join(BOUND), "guest finished");
            assertEquals(null, thread.failure());
            assertEquals(List.of("in 60", "out 42", "mmio write 10000000 4 12345678", "mmio read 10000008 4", "out 99",
                    "done"), new ArrayList<>(seen));
            t.vcpu.completePendingIo();
            assertEquals(TestVm.CODE + code.length, t.vcpu.getRegs().rip(), "the last OUT completed");
        }
    }

    /**
     * Guest memory whose backing fails (a shared file mapping cut short, as when a page source cannot produce a
     * page) fails that VM with a clear error; a second VM running at the same time is not disturbed.
     */
    @Test
    void aFailingPageSourceFailsOnlyItsVm() throws Exception {
        byte[] touchHighPage = {
            (byte) 0x8b, 0x04, 0x25, 0x00, 0x00, 0x18, 0x00,              // mov eax, [0x180000]
            (byte) 0xe6, (byte) TestVm.DONE_PORT,                         // out 0xf4, al
        };
        long size = 2 << 20;
        int memfd = Libc.memfdCreate("guest", Libc.MFD_CLOEXEC);
        java.lang.foreign.MemorySegment mem = null;
        try (KvmSystem kvm = KvmSystem.open(); Vm vm = kvm.createVm();
             TestVm healthy = new TestVm(SPIN, 2 << 20, true);
             VcpuThread other = new VcpuThread(healthy.vcpu, ExitHandler::unexpected).start()) {
            Libc.ftruncate(memfd, size);
            mem = Libc.mmap(java.lang.foreign.MemorySegment.NULL, size, Libc.PROT_READ | Libc.PROT_WRITE,
                    Libc.MAP_SHARED, memfd, 0);
            vm.createIrqchip();
            vm.createPit();
            vm.addMemory(0, mem, false);
            java.lang.foreign.MemorySegment.copy(touchHighPage, 0, mem, ValueLayout.JAVA_BYTE, TestVm.CODE,
                    touchHighPage.length);
            Vcpu vcpu = vm.createVcpu(0);
            io.sandboxd.vmm.arch.x86.X86Modes.longMode(vcpu, mem, TestVm.CODE, TestVm.STACK, new Regs());
            Libc.ftruncate(memfd, 1 << 20); // the page at 1.5 MiB no longer exists: SIGBUS for a process, EFAULT for KVM
            try (VcpuThread failing = new VcpuThread(vcpu, ExitHandler::unexpected).start()) {
                assertTrue(failing.join(BOUND), "the failing VM stopped");
                RuntimeException failure = failing.failure();
                assertNotNull(failure, "the VM failed");
                System.out.println("page source failure: " + failure.getMessage());
                VcpuExit.BadMemory bad = assertInstanceOf(VcpuExit.BadMemory.class,
                        assertInstanceOf(GuestFailedException.class, failure).exit());
                assertEquals(0x180000, bad.address());
                assertTrue(failure.getMessage().contains("0x180000") && failure.getMessage().contains("memory backend"),
                        failure.getMessage());
            }
            assertEquals(VcpuThread.State.RUNNING, other.state(), "the other VM runs on");
            assertTrue(other.pause(BOUND));
            assertTrue(healthy.vcpu.getRegs().rax() > 0);
        } finally {
            if (mem != null) {
                Libc.munmap(mem);
            }
            Libc.close(memfd);
        }
    }

    @Test
    void aTripleFaultEndsTheGuestWithItsState() throws Exception {
        byte[] code = {0x0f, 0x0b}; // ud2 with no IDT: #UD -> #DF -> triple fault
        try (TestVm t = new TestVm(code, 2 << 20, true);
             VcpuThread thread = new VcpuThread(t.vcpu, ExitHandler::unexpected).start()) {
            assertTrue(thread.join(BOUND), "guest stopped");
            GuestFailedException failure = assertInstanceOf(GuestFailedException.class, thread.failure());
            VcpuExit.Shutdown shutdown = assertInstanceOf(VcpuExit.Shutdown.class, failure.exit());
            assertEquals(TestVm.CODE, shutdown.state().regs().rip(), failure.getMessage());
            assertTrue(failure.getMessage().contains("rip=1000"), failure.getMessage());
        }
    }

    @Test
    void anInstructionTheEmulatorCannotRunIsReportedWithTheVcpuState() throws Exception {
        byte[] code = {
            (byte) 0xbe, 0x00, 0x30, 0x00, 0x00,                          // mov esi, 0x3000
            (byte) 0xf0, 0x48, 0x0f, (byte) 0xc7, 0x0e,                   // lock cmpxchg16b [rsi]
            (byte) 0xe6, (byte) TestVm.DONE_PORT,                         // out 0xf4, al
        };
        try (TestVm t = new TestVm(code, 2 << 20, true);
             VcpuThread thread = new VcpuThread(t.vcpu, (v, e) -> e instanceof VcpuExit.PortIo io
                     && io.port() == TestVm.DONE_PORT ? ExitHandler.Action.STOP : ExitHandler.unexpected(v, e)).start()) {
            assertTrue(thread.join(BOUND), "guest stopped");
            RuntimeException failure = thread.failure();
            // Hardware KVM runs cmpxchg16b natively and the guest finishes; PVM's emulator does not have it.
            if (failure != null) {
                System.out.println("emulator refused cmpxchg16b: " + failure.getMessage());
                GuestFailedException f = assertInstanceOf(GuestFailedException.class, failure);
                assertNotNull(f.exit());
                assertTrue(f.getMessage().contains("rip="), f.getMessage());
            }
        }
    }
}
