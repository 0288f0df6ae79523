package io.sandboxd.vmm.kvm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sandboxd.vmm.KvmExtension;
import java.io.ByteArrayOutputStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Run a guest halfway, save its state (through the file format) and memory, restore both into a fresh VM and let
 * it finish: the output and the final registers must equal an uninterrupted run.
 */
@ExtendWith(KvmExtension.class)
class SaveRestoreTest {
    private static final long MEMORY = 4L << 20;
    private static final Duration BOUND = Duration.ofSeconds(20);

    record Outcome(byte[] output, Regs regs, byte[] data) {
    }

    private static Outcome runToEnd(TestVm t, ByteArrayOutputStream out) throws InterruptedException {
        try (VcpuThread thread = new VcpuThread(t.vcpu, TestVm.serialOutput(out, 0)).start()) {
            assertTrue(thread.join(BOUND), "guest finished");
            assertEquals(null, thread.failure());
        }
        t.vcpu.completePendingIo();
        return new Outcome(out.toByteArray(), t.vcpu.getRegs(),
                t.memory.asSlice(TestGuests.DATA, 8L * TestGuests.ITERATIONS).toArray(ValueLayout.JAVA_BYTE));
    }

    private static Outcome reference() throws InterruptedException {
        return reference(TestGuests.COUNTING_LOOP);
    }

    private static Outcome reference(byte[] program) throws InterruptedException {
        try (TestVm t = new TestVm(program, MEMORY, true)) {
            Outcome o = runToEnd(t, new ByteArrayOutputStream());
            assertEquals(TestGuests.ITERATIONS, o.output().length);
            return o;
        }
    }

    /** Restores {@code saved} (after a trip through the file format) and {@code memory} into a new VM, runs it on. */
    private static Outcome restoreAndFinish(MachineState saved, byte[] memory, ByteArrayOutputStream out)
            throws Exception {
        MachineState decoded = MachineStateCodec.decode(MachineStateCodec.encode(saved));
        assertEquals(saved, decoded);
        try (TestVm fresh = new TestVm(new byte[0], MEMORY, true)) {
            MemorySegment.copy(memory, 0, fresh.memory, ValueLayout.JAVA_BYTE, 0, memory.length);
            fresh.vm.restoreMachineState(decoded);
            return runToEnd(fresh, out);
        }
    }

    @Test
    void aGuestStoppedAfterNOutputsAndRestoredFinishesLikeAnUninterruptedRun() throws Exception {
        Outcome reference = reference();
        for (int n : new int[] {1, 17, TestGuests.ITERATIONS - 1}) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            MachineState saved;
            byte[] memory;
            try (TestVm first = new TestVm(TestGuests.COUNTING_LOOP, MEMORY, true);
                 VcpuThread thread = new VcpuThread(first.vcpu, TestVm.serialOutput(out, n)).start()) {
                assertTrue(thread.join(BOUND));
                assertEquals(null, thread.failure());
                first.vcpu.completePendingIo();
                saved = first.vm.saveMachineState();
                memory = first.memory.toArray(ValueLayout.JAVA_BYTE);
            }
            assertEquals(n, out.size());
            Outcome restored = restoreAndFinish(saved, memory, out);
            assertArrayEquals(reference.output(), restored.output(), "output after stopping at " + n);
            assertEquals(reference.regs(), restored.regs(), "final registers after stopping at " + n);
            assertArrayEquals(reference.data(), restored.data(), "memory written by the guest");
        }
    }

    @Test
    void aGuestPausedByAKickAnywhereAndRestoredFinishesLikeAnUninterruptedRun() throws Exception {
        byte[] slow = TestGuests.countingLoop(10000);
        Outcome reference = reference(slow);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        MachineState saved;
        byte[] memory;
        try (TestVm first = new TestVm(slow, MEMORY, true);
             VcpuThread thread = new VcpuThread(first.vcpu, TestVm.serialOutput(out, 0)).start()) {
            while (out.size() < 5) {
                Thread.sleep(1);
            }
            if (!thread.pause(BOUND)) {
                org.junit.jupiter.api.Assumptions.abort("the guest finished before the kick landed: this host runs it "
                        + "too fast for a mid-run kick (PVM does not)");
            }
            saved = first.vm.saveMachineState();
            memory = first.memory.toArray(ValueLayout.JAVA_BYTE);
        }
        int before = out.size();
        assertTrue(before >= 5 && before < TestGuests.ITERATIONS, "paused after " + before + " outputs");
        System.out.println("kicked after " + before + " outputs at " + saved.vcpus().get(0).generalRegisters());
        Outcome restored = restoreAndFinish(saved, memory, out);
        assertArrayEquals(reference.output(), restored.output());
        assertEquals(reference.regs(), restored.regs());
        assertArrayEquals(reference.data(), restored.data());
    }
}
