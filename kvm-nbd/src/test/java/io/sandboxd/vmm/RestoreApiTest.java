package io.sandboxd.vmm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sandboxd.vmm.arch.x86.X86Modes;
import io.sandboxd.vmm.kvm.ExitHandler;
import io.sandboxd.vmm.kvm.KvmAssumptions;
import io.sandboxd.vmm.kvm.KvmSystem;
import io.sandboxd.vmm.kvm.Regs;
import io.sandboxd.vmm.kvm.TestGuests;
import io.sandboxd.vmm.kvm.TestVm;
import io.sandboxd.vmm.kvm.VcpuExit;
import io.sandboxd.layer.Extent;
import java.io.ByteArrayOutputStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** restore / snapshot / destroy, with the counting-loop guest, against an uninterrupted run. */
class RestoreApiTest {
    static final long MEMORY = 4L << 20;
    static final Duration BOUND = Duration.ofSeconds(20);
    private static KvmSystem kvm;
    private static Vmm vmm;

    @BeforeAll
    static void open() {
        if (KvmSystem.unavailableReason().isEmpty()) {
            kvm = KvmSystem.open();
            vmm = new Vmm(kvm);
        }
    }

    @AfterAll
    static void close() {
        if (kvm != null) {
            kvm.close();
        }
    }

    @BeforeEach
    void needsKvm() {
        KvmAssumptions.assumeKvm();
    }

    /** Serial output collector; STOP at done, or after {@code stopAfter} more outputs when > 0. */
    static ExitHandler devices(ByteArrayOutputStream out, int stopAfter) {
        AtomicInteger outputs = new AtomicInteger();
        return (vcpu, exit) -> {
            if (exit instanceof VcpuExit.PortIo io && !io.in() && io.port() == TestVm.SERIAL) {
                synchronized (out) {
                    out.writeBytes(io.bytes());
                }
                return stopAfter > 0 && outputs.incrementAndGet() == stopAfter ? ExitHandler.Action.STOP
                        : ExitHandler.Action.CONTINUE;
            }
            if (exit instanceof VcpuExit.PortIo io && io.port() == TestVm.DONE_PORT) {
                return ExitHandler.Action.STOP;
            }
            return ExitHandler.unexpected(vcpu, exit);
        };
    }

    /** Boots the counting loop and lets it make {@code outputs} outputs (0 = run to the end). */
    static RunningVm boot(ByteArrayOutputStream out, int outputs) throws InterruptedException {
        return RestoreApiTest.bootWith(vmm, out, outputs);
    }

    static RunningVm bootWith(Vmm vmm, ByteArrayOutputStream out, int outputs) throws InterruptedException {
        return bootWith(vmm, TestGuests.COUNTING_LOOP, out, outputs);
    }

    static RunningVm bootWith(Vmm vmm, byte[] program, ByteArrayOutputStream out, int outputs)
            throws InterruptedException {
        AnonymousTestMemory memory = new AnonymousTestMemory(MEMORY);
        MemorySegment.copy(program, 0, memory.host, ValueLayout.JAVA_BYTE, TestVm.CODE, program.length);
        RunningVm vm = vmm.boot(memory, 1, v -> X86Modes.longMode(v, memory.host, TestVm.CODE, TestVm.STACK, new Regs()),
                devices(out, outputs));
        if (outputs > 0) {
            assertTrue(vm.awaitFinished(BOUND));
            assertEquals(java.util.Optional.empty(), vm.failure());
        }
        return vm;
    }

    record Outcome(byte[] output, Regs regs) {
    }

    static Outcome finish(RunningVm vm, ByteArrayOutputStream out) throws InterruptedException {
        assertTrue(vm.awaitFinished(BOUND), "guest finished");
        assertEquals(java.util.Optional.empty(), vm.failure());
        vm.pause(BOUND);
        return new Outcome(out.toByteArray(), vm.vcpus().get(0).getRegs());
    }

    static Outcome reference() throws InterruptedException {
        return reference(vmm, TestGuests.COUNTING_LOOP);
    }

    static Outcome reference(byte[] program) throws InterruptedException {
        return reference(vmm, program);
    }

    /** The output and final registers of {@code program} run from boot to its end without interruption. */
    static Outcome reference(Vmm vmm, byte[] program) throws InterruptedException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (RunningVm vm = bootWith(vmm, program, out, 0)) {
            return finish(vm, out);
        }
    }

    @Test
    void twoSnapshotsOfOneRunningVmChainAndTheSecondRestores(@TempDir Path dir) throws Exception {
        byte[] slow = TestGuests.countingLoop(2000);
        Outcome reference = reference(slow);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        VmSnapshot base;
        try (RunningVm vm = bootWith(vmm, slow, out, 2)) {
            base = vmm.snapshotBase(vm, dir);
        }
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
                devices(seen, 0))) {
            Outcome o = finish(vm, seen);
            assertArrayEquals(reference.output(), o.output());
            assertEquals(reference.regs(), o.regs());
        }
    }

    /** Like {@link #devices} (never stopping), but parking the vCPU after each of the given output counts. */
    static ExitHandler devicesPausingAt(ByteArrayOutputStream out, int... counts) {
        java.util.Set<Integer> at = java.util.Arrays.stream(counts).boxed().collect(java.util.stream.Collectors.toSet());
        ExitHandler base = devices(out, 0);
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
    void aRestoredSnapshotFinishesLikeAnUninterruptedRun(@TempDir Path dir) throws Exception {
        Outcome reference = reference();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        VmSnapshot snap;
        try (RunningVm vm = boot(out, 11)) {
            snap = vmm.snapshotBase(vm, dir);
        }
        // what the runtime does: open it again from disk
        VmSnapshot reopened = VmSnapshot.open(snap.memory().headerPath());
        assertEquals(snap.state(), reopened.state());
        RunningVm restored = vmm.restore(reopened, AnonymousTestMemory.EAGER_COPY, devices(out, 0));
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
    void aDiffSnapshotHoldsExactlyThePagesWritten(@TempDir Path dir) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        VmSnapshot base;
        try (RunningVm vm = boot(out, 3)) {
            base = vmm.snapshotBase(vm, dir);
        }
        VmSnapshot diff;
        try (RunningVm vm = vmm.restore(base, AnonymousTestMemory.EAGER_COPY, devices(out, 5))) {
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
    void secondAndTenthGenerationsRestoreAndFinishLikeAnUninterruptedRun(@TempDir Path dir) throws Exception {
        Outcome reference = reference();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        VmSnapshot snap;
        try (RunningVm vm = boot(out, 3)) {
            snap = vmm.snapshotBase(vm, dir);
        }
        for (int generation = 2; generation <= 10; generation++) {
            try (RunningVm vm = vmm.restore(snap, AnonymousTestMemory.EAGER_COPY, devices(out, 3))) {
                assertTrue(vm.awaitFinished(BOUND));
                snap = vmm.snapshot(vm);
            }
            assertEquals(generation, snap.generation());
            if (generation == 2 || generation == 10) {
                VmSnapshot s = VmSnapshot.open(snap.memory().headerPath());
                ByteArrayOutputStream copy = new ByteArrayOutputStream();
                copy.writeBytes(out.toByteArray());
                try (RunningVm vm = vmm.restore(s, AnonymousTestMemory.EAGER_COPY, devices(copy, 0))) {
                    Outcome o = finish(vm, copy);
                    assertArrayEquals(reference.output(), o.output(), "generation " + generation);
                    assertEquals(reference.regs(), o.regs(), "generation " + generation);
                }
            }
        }
    }

    @Test
    void whenItsMemoryFailsOnlyThatVmFailsAndStops(@TempDir Path dir) throws Exception {
        byte[] slow = TestGuests.countingLoop(20000);
        VmSnapshot snap;
        try (RunningVm vm = bootWith(vmm, slow, new ByteArrayOutputStream(), 1)) {
            snap = vmm.snapshotBase(vm, dir);
        }
        java.util.concurrent.atomic.AtomicReference<java.util.function.Consumer<RuntimeException>> failMemory =
                new java.util.concurrent.atomic.AtomicReference<>();
        MemoryBackend failing = (image, onFailure) -> {
            failMemory.set(onFailure);
            return AnonymousTestMemory.EAGER_COPY.open(image, onFailure);
        };
        ByteArrayOutputStream healthyOut = new ByteArrayOutputStream();
        healthyOut.writeBytes(new byte[1]); // the output made before the snapshot
        try (RunningVm healthy = vmm.restore(snap, AnonymousTestMemory.EAGER_COPY, devices(healthyOut, 0));
             RunningVm doomed = vmm.restore(snap, failing, devices(new ByteArrayOutputStream(), 0))) {
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
    void aBootedVmCannotTakeADiffSnapshot() throws Exception {
        try (RunningVm vm = boot(new ByteArrayOutputStream(), 1)) {
            assertThrows(IllegalStateException.class, () -> vmm.snapshot(vm));
        }
    }

    @Test
    void aFailingRestoreReleasesWhatItMade(@TempDir Path dir) throws Exception {
        VmSnapshot snap;
        try (RunningVm vm = boot(new ByteArrayOutputStream(), 1)) {
            snap = vmm.snapshotBase(vm, dir);
        }
        MemoryBackend tooSmall = (image, onFailure) -> new AnonymousTestMemory(image.size() / 2);
        ResourceCount before = null;
        for (int i = 0; i < 110; i++) {
            if (i == 10) {
                before = ResourceCount.now(); // after a warm-up
            }
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> vmm.restore(snap, tooSmall, devices(new ByteArrayOutputStream(), 0)));
            assertTrue(e.getMessage().contains("mapped"), e.getMessage());
        }
        ResourceCount.assertNoGrowth(before, ResourceCount.now(), 100);
    }
}
