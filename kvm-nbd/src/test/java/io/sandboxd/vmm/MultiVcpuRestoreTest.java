package io.sandboxd.vmm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sandboxd.ffi.Kvm;
import io.sandboxd.vmm.arch.x86.X86Modes;
import io.sandboxd.vmm.kvm.ExitHandler;
import io.sandboxd.vmm.kvm.Regs;
import io.sandboxd.vmm.kvm.TestGuests;
import io.sandboxd.vmm.kvm.TestVm;
import io.sandboxd.vmm.kvm.VcpuExit;
import java.io.ByteArrayOutputStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** Two vCPUs snapshotted while both run, restored into a pre-made shell: each goes on where it was. */
@ExtendWith(KvmExtension.class)
class MultiVcpuRestoreTest {
    private static final int AP_CODE = 0x2000;
    private static final long AP_COUNTER = 0x380000;
    /** loop: inc r8; mov [0x380000], r8; jmp loop */
    private static final byte[] AP_LOOP = {
        0x49, (byte) 0xff, (byte) 0xc0,                                   // inc r8
        0x4c, (byte) 0x89, 0x04, 0x25, 0x00, 0x00, 0x38, 0x00,            // mov [0x380000], r8
        (byte) 0xeb, (byte) 0xf3,                                         // jmp loop
    };
    private static final Duration BOUND = Duration.ofSeconds(30);

    /** Serial output; vCPU 0 parks after output number {@code pauseAt} (0: never), so snapshots land there on any host. */
    private static ExitHandler devices(ByteArrayOutputStream out, CountDownLatch done, int pauseAt) {
        return (vcpu, exit) -> {
            if (exit instanceof VcpuExit.PortIo io && !io.in() && io.port() == TestVm.SERIAL) {
                synchronized (out) {
                    out.writeBytes(io.bytes());
                    return out.size() == pauseAt ? ExitHandler.Action.PAUSE : ExitHandler.Action.CONTINUE;
                }
            }
            if (exit instanceof VcpuExit.PortIo io && io.port() == TestVm.DONE_PORT) {
                done.countDown();
                return ExitHandler.Action.STOP;
            }
            return ExitHandler.unexpected(vcpu, exit);
        };
    }

    private static int size(ByteArrayOutputStream out) {
        synchronized (out) {
            return out.size();
        }
    }

    @Test
    void bothVcpusContinueFromASnapshotTakenWhileTheyRan(@TempDir Path dir, Vmm vmm) throws Exception {
        byte[] program = TestGuests.countingLoop(2000);
        ByteArrayOutputStream reference = new ByteArrayOutputStream();
        Regs referenceRegs;
        try (RunningVm vm = RestoreApiTest.bootWith(vmm, program, reference, 0)) {
            assertTrue(vm.awaitFinished(BOUND));
            vm.pause(BOUND);
            referenceRegs = vm.vcpus().get(0).getRegs();
        }

        AnonymousTestMemory memory = new AnonymousTestMemory(RestoreApiTest.MEMORY);
        MemorySegment.copy(program, 0, memory.host, ValueLayout.JAVA_BYTE, TestVm.CODE, program.length);
        MemorySegment.copy(AP_LOOP, 0, memory.host, ValueLayout.JAVA_BYTE, AP_CODE, AP_LOOP.length);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        VmSnapshot snap;
        long apCounterAtSnapshot;
        try (RunningVm vm = vmm.boot(memory, 2, v -> {
            if (v.id() == 0) {
                X86Modes.longMode(v, memory.host, TestVm.CODE, TestVm.STACK, new Regs());
            } else {
                X86Modes.longMode(v, memory.host, AP_CODE, 0x70000, new Regs());
                v.setMpState(Kvm.KVM_MP_STATE_RUNNABLE); // an AP starts waiting for INIT/SIPI
            }
        }, devices(out, new CountDownLatch(1), 6))) {
            while (size(out) < 6) {
                Thread.sleep(1);
            }
            snap = vmm.snapshotBase(vm, dir);
            apCounterAtSnapshot = snap.state().vcpus().get(1).generalRegisters().get("r8");
            assertTrue(apCounterAtSnapshot > 0, "the AP ran before the snapshot");
            long stored = memory.host.get(ValueLayout.JAVA_LONG, AP_COUNTER);
            // paused either after the store or between the inc and the store
            assertTrue(stored == apCounterAtSnapshot || stored == apCounterAtSnapshot - 1,
                    "the AP's register " + apCounterAtSnapshot + " and its last store " + stored + " agree");
        }

        ByteArrayOutputStream after = new ByteArrayOutputStream();
        synchronized (out) {
            after.writeBytes(out.toByteArray());
        }
        CountDownLatch done = new CountDownLatch(1);
        try (VmShell shell = vmm.createShell(2);
             RunningVm vm = vmm.restore(shell, snap, AnonymousTestMemory.EAGER_COPY, devices(after, done, 0))) {
            assertThrows(IllegalStateException.class,
                    () -> vmm.restore(shell, snap, AnonymousTestMemory.EAGER_COPY, devices(after, done, 0)),
                    "a shell serves one restore");
            assertTrue(done.await(BOUND.toSeconds(), TimeUnit.SECONDS), "vCPU 0 finished");
            vm.pause(BOUND);
            long apCounter = vm.vcpus().get(1).getRegs().get("r8");
            assertTrue(apCounter > apCounterAtSnapshot, "the AP went on counting: " + apCounterAtSnapshot + " -> "
                    + apCounter);
            assertEquals(referenceRegs, vm.vcpus().get(0).getRegs());
        }
        assertArrayEquals(reference.toByteArray(), after.toByteArray());
    }
}
