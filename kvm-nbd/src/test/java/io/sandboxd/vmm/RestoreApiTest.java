package io.sandboxd.vmm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sandboxd.vmm.arch.x86.X86Modes;
import io.sandboxd.vmm.kvm.ExitHandler;
import io.sandboxd.vmm.kvm.Regs;
import io.sandboxd.vmm.kvm.TestGuests;
import io.sandboxd.vmm.kvm.TestVm;
import io.sandboxd.vmm.kvm.VcpuExit;
import io.sandboxd.layer.Extent;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** restore / snapshot / destroy, with the counting-loop guest, against an uninterrupted run. */
@ExtendWith(KvmExtension.class)
class RestoreApiTest {
    static final long MEMORY = 4L << 20;
    static final Duration BOUND = Duration.ofSeconds(20);

    /** Boots the counting loop and lets it make {@code outputs} outputs (0 = run to the end). */
    static RunningVm bootWith(Vmm vmm, ByteArrayOutputStream out, int outputs) throws InterruptedException {
        return bootWith(vmm, TestGuests.COUNTING_LOOP, out, outputs);
    }

    static RunningVm bootWith(Vmm vmm, byte[] program, ByteArrayOutputStream out, int outputs)
            throws InterruptedException {
        AnonymousTestMemory memory = new AnonymousTestMemory(MEMORY);
        MemorySegment.copy(program, 0, memory.host, ValueLayout.JAVA_BYTE, TestVm.CODE, program.length);
        RunningVm vm = vmm.boot(memory, 1, v -> X86Modes.longMode(v, memory.host, TestVm.CODE, TestVm.STACK, new Regs()),
                TestVm.serialOutput(out, outputs));
        if (outputs > 0) {
            assertTrue(vm.awaitFinished(BOUND));
            assertEquals(java.util.Optional.empty(), vm.failure());
        }
        return vm;
    }

    /** Boots the counting loop, lets it make {@code outputs} outputs and takes a base snapshot into {@code dir}. */
    static VmSnapshot bootAndSnapshot(Vmm vmm, ByteArrayOutputStream out, int outputs, Path dir)
            throws IOException, InterruptedException {
        return bootAndSnapshot(vmm, TestGuests.COUNTING_LOOP, out, outputs, dir);
    }

    /** Boots {@code program}, lets it make {@code outputs} (> 0) outputs and takes a base snapshot into {@code dir}. */
    static VmSnapshot bootAndSnapshot(Vmm vmm, byte[] program, ByteArrayOutputStream out, int outputs, Path dir)
            throws IOException, InterruptedException {
        try (RunningVm vm = bootWith(vmm, program, out, outputs)) {
            return vmm.snapshotBase(vm, dir);
        }
    }

    record Outcome(byte[] output, Regs regs) {
    }

    static Outcome finish(RunningVm vm, ByteArrayOutputStream out) throws InterruptedException {
        assertTrue(vm.awaitFinished(BOUND), "guest finished");
        assertEquals(java.util.Optional.empty(), vm.failure());
        vm.pause(BOUND);
        return new Outcome(out.toByteArray(), vm.vcpus().get(0).getRegs());
    }

    /** The output and final registers of {@code program} run from boot to its end without interruption. */
    static Outcome reference(Vmm vmm, byte[] program) throws InterruptedException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (RunningVm vm = bootWith(vmm, program, out, 0)) {
            return finish(vm, out);
        }
    }

    @Test
    void twoSnapshotsOfOneRunningVmChainAndTheSecondRestores(@TempDir Path dir, Vmm vmm) throws Exception {
        byte[] slow = TestGuests.countingLoop(2000);
        Outcome reference = reference(vmm, slow);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        VmSnapshot base = bootAndSnapshot(vmm, slow, out, 2, dir);
        VmSnapshot second;
        ByteArrayOutputStream seen;
        try (RunningVm vm = vmm.restore(base, AnonymousTestMemory.EAGER_COPY, devicesPausingAt(out, 10, 20))) {
            waitForOutputs(out, 10);
            VmSnapshot first = vmm.snapshot(vm); // paused mid-run
            assertEquals(2, first.generation());
            vm.resume();
            waitForOutputs(out, 20);
            second = vmm.snapshot(vm);
            seen = new ByteArrayOutputStream();
            synchronized (out) {
                seen.writeBytes(out.toByteArray());
            }
        }
        assertEquals(3, second.generation());
        try (RunningVm vm = vmm.restore(VmSnapshot.open(second.memory().headerPath()), AnonymousTestMemory.EAGER_COPY,
                TestVm.serialOutput(seen, 0))) {
            Outcome o = finish(vm, seen);
            assertArrayEquals(reference.output(), o.output());
            assertEquals(reference.regs(), o.regs());
        }
    }

    /** Like {@link #devices} (never stopping), but parking the vCPU after each of the given output counts. */
    static ExitHandler devicesPausingAt(ByteArrayOutputStream out, int... counts) {
        java.util.Set<Integer> at = java.util.Arrays.stream(counts).boxed().collect(java.util.stream.Collectors.toSet());
        ExitHandler base = TestVm.serialOutput(out, 0);
        return (vcpu, exit) -> {
            ExitHandler.Action a = base.onExit(vcpu, exit);
            if (a == ExitHandler.Action.CONTINUE && exit instanceof VcpuExit.PortIo io && io.port() == TestVm.SERIAL) {
                synchronized (out) {
                    return at.contains(out.size()) ? ExitHandler.Action.PAUSE : a;
                }
            }
            return a;
        };
    }

    private static void waitForOutputs(ByteArrayOutputStream out, int n) throws InterruptedException {
        long deadline = System.nanoTime() + BOUND.toNanos();
        while (true) {
            synchronized (out) {
                if (out.size() >= n) {
                    return;
                }
            }
            assertTrue(System.nanoTime() < deadline, "guest made " + n + " outputs");
            Thread.sleep(1);
        }
    }

    @Test
    void aRestoredSnapshotFinishesLikeAnUninterruptedRun(@TempDir Path dir, Vmm vmm) throws Exception {
        Outcome reference = reference(vmm, TestGuests.COUNTING_LOOP);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        VmSnapshot snap = bootAndSnapshot(vmm, out, 11, dir);
        // what the runtime does: open it again from disk
        VmSnapshot reopened = VmSnapshot.open(snap.memory().headerPath());
        assertEquals(snap.state(), reopened.state());
        RunningVm restored = vmm.restore(reopened, AnonymousTestMemory.EAGER_COPY, TestVm.serialOutput(out, 0));
        try {
            Outcome o = finish(restored, out);
            assertArrayEquals(reference.output(), o.output());
            assertEquals(reference.regs(), o.regs());
        } finally {
            vmm.destroy(restored);
        }
        assertTrue(restored.isClosed());
    }

    @Test
    void aDiffSnapshotHoldsExactlyThePagesWritten(@TempDir Path dir, Vmm vmm) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        VmSnapshot base = bootAndSnapshot(vmm, out, 3, dir);
        VmSnapshot diff;
        try (RunningVm vm = vmm.restore(base, AnonymousTestMemory.EAGER_COPY, TestVm.serialOutput(out, 5))) {
            assertTrue(vm.awaitFinished(BOUND));
            diff = vmm.snapshot(vm);
        }
        assertEquals(2, diff.generation());
        Set<Long> pagesInNewLayer = new TreeSet<>();
        for (Extent e : diff.memory().header().extents()) {
            if (e.layerId() == diff.memory().layerId()) {
                for (long p = e.offset(); p < e.end(); p += 4096) {
                    pagesInNewLayer.add(p);
                }
            }
        }
        // The only page the guest wrote in those 5 iterations is its data page (code and page tables are
        // only read; no stack is used).
        assertEquals(Set.of(TestGuests.DATA), pagesInNewLayer);
        assertEquals(4096, Files.size(diff.memory().layerPath(diff.memory().layerId())), "the layer file holds one page");
    }

    @Test
    void secondAndTenthGenerationsRestoreAndFinishLikeAnUninterruptedRun(@TempDir Path dir, Vmm vmm) throws Exception {
        Outcome reference = reference(vmm, TestGuests.COUNTING_LOOP);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        VmSnapshot snap = bootAndSnapshot(vmm, out, 3, dir);
        for (int generation = 2; generation <= 10; generation++) {
            try (RunningVm vm = vmm.restore(snap, AnonymousTestMemory.EAGER_COPY, TestVm.serialOutput(out, 3))) {
                assertTrue(vm.awaitFinished(BOUND));
                snap = vmm.snapshot(vm);
            }
            assertEquals(generation, snap.generation());
            if (generation == 2 || generation == 10) {
                VmSnapshot s = VmSnapshot.open(snap.memory().headerPath());
                ByteArrayOutputStream copy = new ByteArrayOutputStream();
                copy.writeBytes(out.toByteArray());
                try (RunningVm vm = vmm.restore(s, AnonymousTestMemory.EAGER_COPY, TestVm.serialOutput(copy, 0))) {
                    Outcome o = finish(vm, copy);
                    assertArrayEquals(reference.output(), o.output(), "generation " + generation);
                    assertEquals(reference.regs(), o.regs(), "generation " + generation);
                }
            }
        }
    }

    @Test
    void whenItsMemoryFailsOnlyThatVmFailsAndStops(@TempDir Path dir, Vmm vmm) throws Exception {
        byte[] slow = TestGuests.countingLoop(20000);
        VmSnapshot snap = bootAndSnapshot(vmm, slow, new ByteArrayOutputStream(), 1, dir);
        java.util.concurrent.atomic.AtomicReference<java.util.function.Consumer<RuntimeException>> failMemory =
                new java.util.concurrent.atomic.AtomicReference<>();
        MemoryBackend failing = (image, onFailure) -> {
            failMemory.set(onFailure);
            return AnonymousTestMemory.EAGER_COPY.open(image, onFailure);
        };
        ByteArrayOutputStream healthyOut = new ByteArrayOutputStream();
        healthyOut.writeBytes(new byte[1]); // the output made before the snapshot
        try (RunningVm healthy = vmm.restore(snap, AnonymousTestMemory.EAGER_COPY, TestVm.serialOutput(healthyOut, 0));
             RunningVm doomed = vmm.restore(snap, failing, TestVm.serialOutput(new ByteArrayOutputStream(), 0))) {
            Thread.sleep(50);
            // what the uffd page server does when it cannot read a page from the image
            failMemory.get().accept(new IllegalStateException("page source read failed: EIO at image offset 0x2000"));
            assertTrue(doomed.awaitFinished(BOUND), "the failed VM's vCPUs stopped");
            assertTrue(doomed.failure().orElseThrow().getMessage().contains("EIO"));
            assertTrue(healthy.awaitFinished(BOUND), "the other VM runs to its end");
            assertEquals(java.util.Optional.empty(), healthy.failure(), "the other VM is untouched");
            assertEquals(TestGuests.ITERATIONS, healthyOut.size());
        }
    }

    @Test
    void aBootedVmCannotTakeADiffSnapshot(Vmm vmm) throws Exception {
        try (RunningVm vm = bootWith(vmm, new ByteArrayOutputStream(), 1)) {
            assertThrows(IllegalStateException.class, () -> vmm.snapshot(vm));
        }
    }

    @Test
    void aFailingRestoreReleasesWhatItMade(@TempDir Path dir, Vmm vmm) throws Exception {
        VmSnapshot snap = bootAndSnapshot(vmm, new ByteArrayOutputStream(), 1, dir);
        MemoryBackend tooSmall = (image, onFailure) -> new AnonymousTestMemory(image.size() / 2);
        ResourceCount before = null;
        for (int i = 0; i < 110; i++) {
            if (i == 10) {
                before = ResourceCount.now(); // after a warm-up
            }
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> vmm.restore(snap, tooSmall, TestVm.serialOutput(new ByteArrayOutputStream(), 0)));
            assertTrue(e.getMessage().contains("mapped"), e.getMessage());
        }
        ResourceCount.assertNoGrowth(before, ResourceCount.now(), 100);
    }
}
