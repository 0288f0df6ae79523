package io.sandboxd.vmm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sandboxd.vmm.arch.x86.X86Modes;
import io.sandboxd.vmm.kvm.ExitHandler;
import io.sandboxd.vmm.kvm.FillPagesGuest;
import io.sandboxd.vmm.kvm.Regs;
import io.sandboxd.vmm.kvm.TestGuests;
import io.sandboxd.vmm.kvm.TestVm;
import io.sandboxd.vmm.kvm.VcpuExit;
import io.sandboxd.vmm.memory.MappedGuestMemory;
import io.sandboxd.vmm.memory.MemoryBackends;
import io.sandboxd.vmm.memory.MemoryOptions;
import io.sandboxd.vmm.memory.PageServerStats;
import io.sandboxd.layer.Extent;
import java.io.ByteArrayOutputStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The restore API with each product memory backend (eager, private-map, uffd): a snapshot taken mid-run and
 * restored finishes like an uninterrupted run, diffs hold exactly the written pages, generations chain, and uffd
 * serves only the pages the guest touches.
 */
@ExtendWith(KvmExtension.class)
class BackendRestoreTest {
    @ParameterizedTest
    @EnumSource(MemoryBackends.class)
    void aSnapshotTakenMidRunRestoresAndFinishesLikeAnUninterruptedRun(MemoryBackends kind,
                                                                        @TempDir Path dir, Vmm vmm) throws Exception {
        RestoreApiTest.Outcome reference = RestoreApiTest.reference(vmm, TestGuests.COUNTING_LOOP);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        VmSnapshot snap = RestoreApiTest.bootAndSnapshot(vmm, TestGuests.COUNTING_LOOP, out, 13, dir);
        try (RunningVm vm = vmm.restore(VmSnapshot.open(snap.memory().headerPath()), kind,
                TestVm.serialOutput(out, 0))) {
            RestoreApiTest.Outcome o = RestoreApiTest.finish(vm, out);
            assertArrayEquals(reference.output(), o.output(), kind.id());
            assertEquals(reference.regs(), o.regs(), kind.id());
        }
    }

    @ParameterizedTest
    @EnumSource(MemoryBackends.class)
    void aDiffSnapshotHoldsExactlyThePagesWritten(MemoryBackends kind, @TempDir Path dir, Vmm vmm)
            throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        VmSnapshot base = RestoreApiTest.bootAndSnapshot(vmm, TestGuests.COUNTING_LOOP, out, 3, dir);
        VmSnapshot diff;
        try (RunningVm vm = vmm.restore(base, kind, TestVm.serialOutput(out, 5))) {
            assertTrue(vm.awaitFinished(RestoreApiTest.BOUND));
            diff = vmm.snapshot(vm);
        }
        Set<Long> pages = new TreeSet<>();
        for (Extent e : diff.memory().header().extents()) {
            if (e.layerId() == diff.memory().layerId()) {
                for (long p = e.offset(); p < e.end(); p += 4096) {
                    pages.add(p);
                }
            }
        }
        assertEquals(Set.of(TestGuests.DATA), pages, kind.id() + ": only the data page was written");
        assertEquals(4096, Files.size(diff.memory().layerPath(diff.memory().layerId())));
    }

    @ParameterizedTest
    @EnumSource(MemoryBackends.class)
    void theSecondAndTenthGenerationsRestore(MemoryBackends kind, @TempDir Path dir, Vmm vmm)
            throws Exception {
        RestoreApiTest.Outcome reference = RestoreApiTest.reference(vmm, TestGuests.COUNTING_LOOP);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        VmSnapshot snap = RestoreApiTest.bootAndSnapshot(vmm, TestGuests.COUNTING_LOOP, out, 3, dir);
        for (int generation = 2; generation <= 10; generation++) {
            try (RunningVm vm = vmm.restore(snap, kind, TestVm.serialOutput(out, 3))) {
                assertTrue(vm.awaitFinished(RestoreApiTest.BOUND));
                snap = vmm.snapshot(vm);
            }
            assertEquals(generation, snap.generation());
            if (generation == 2 || generation == 10) {
                ByteArrayOutputStream copy = new ByteArrayOutputStream();
                copy.writeBytes(out.toByteArray());
                try (RunningVm vm = vmm.restore(VmSnapshot.open(snap.memory().headerPath()), kind,
                        TestVm.serialOutput(copy, 0))) {
                    RestoreApiTest.Outcome o = RestoreApiTest.finish(vm, copy);
                    assertArrayEquals(reference.output(), o.output(), kind.id() + " generation " + generation);
                    assertEquals(reference.regs(), o.regs(), kind.id() + " generation " + generation);
                }
            }
        }
    }

    /**
     * The compiled guest, snapshotted right after its first page, then restored with uffd and no prefetch: the
     * page server must see a fault for each page the guest goes on to touch (code, the three page-table pages,
     * its stack page, the 16 pages it fills) and for nothing else of its 8 MiB.
     */
    @Test
    void uffdServesOnlyThePagesTheGuestTouches(@TempDir Path dir, Vmm vmm) throws Exception {
        byte[] guest = FillPagesGuest.compile();
        AnonymousTestMemory memory = new AnonymousTestMemory(8L << 20);
        MemorySegment.copy(guest, 0, memory.host, ValueLayout.JAVA_BYTE, TestVm.CODE, guest.length);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        VmSnapshot snap;
        try (RunningVm vm = vmm.boot(memory, 1, v -> X86Modes.longMode(v, memory.host, TestVm.CODE, TestVm.STACK,
                new Regs()), serialStoppingAfter(out, 4))) {
            assertTrue(vm.awaitFinished(RestoreApiTest.BOUND));
            snap = vmm.snapshotBase(vm, dir);
        }
        MemoryBackend uffd = (image, onFailure) -> MemoryBackends.UFFD.create(image,
                MemoryOptions.DEFAULT.withPrefetch(false).withOnFailure(onFailure::accept));
        try (RunningVm vm = vmm.restore(snap, uffd, serialStoppingAfter(out, 0))) {
            assertTrue(vm.awaitFinished(RestoreApiTest.BOUND));
            assertEquals(java.util.Optional.empty(), vm.failure());
            PageServerStats stats = ((MappedGuestMemory) vm.memory()).pageServerStats().orElseThrow();
            System.out.println("uffd after the compiled guest: " + stats);
            assertArrayEquals(FillPagesGuest.expectedOutput(), out.toByteArray());
            // After the restore the guest touches its code page, the three page-table pages and the 16 pages it
            // fills (its stack only at entry, before the snapshot): 20 of 2048. A little slack for what another
            // gcc version may do with the stack.
            long touched = 1 + 3 + FillPagesGuest.PAGES;
            assertEquals(stats.faults(), stats.copies() + stats.zeroFills(), "every fault was served once");
            assertTrue(stats.faults() >= touched && stats.faults() <= touched + 2,
                    "faults " + stats.faults() + ", the guest touches " + touched + " of 2048 pages");
        }
    }

    /**
     * The uffd page source loses its data (the layer file is cut short after the image was opened, as an I/O
     * error would): that VM fails with an error naming the page source and stops; a VM restored from another copy
     * of the same snapshot, running at the same time, finishes normally.
     */
    @Test
    void aFailingPageSourceFailsOnlyItsVm(@TempDir Path dir, Vmm vmm) throws Exception {
        byte[] guest = FillPagesGuest.compile();
        AnonymousTestMemory memory = new AnonymousTestMemory(8L << 20);
        MemorySegment.copy(guest, 0, memory.host, ValueLayout.JAVA_BYTE, TestVm.CODE, guest.length);
        VmSnapshot snap;
        try (RunningVm vm = vmm.boot(memory, 1, v -> X86Modes.longMode(v, memory.host, TestVm.CODE, TestVm.STACK,
                new Regs()), serialStoppingAfter(new ByteArrayOutputStream(), 4))) {
            assertTrue(vm.awaitFinished(RestoreApiTest.BOUND));
            snap = vmm.snapshotBase(vm, dir.resolve("a"));
        }
        Path copy = dir.resolve("b");
        Files.createDirectories(copy);
        try (var files = Files.list(dir.resolve("a"))) {
            for (Path f : files.toList()) {
                Files.copy(f, copy.resolve(f.getFileName()));
            }
        }
        VmSnapshot doomedSnap = VmSnapshot.open(snap.memory().headerPath());
        VmSnapshot healthySnap = VmSnapshot.open(copy.resolve(snap.memory().headerPath().getFileName()));
        // Cut the doomed copy's data after the code page: the page tables at 0x9000.. can no longer be read.
        try (var ch = java.nio.channels.FileChannel.open(doomedSnap.memory().layerPath(doomedSnap.memory().layerId()),
                java.nio.file.StandardOpenOption.WRITE)) {
            ch.truncate(0x2000);
        }
        MemoryBackend lazy = (image, onFailure) -> MemoryBackends.UFFD.create(image,
                MemoryOptions.DEFAULT.withPrefetch(false).withOnFailure(onFailure::accept));
        ByteArrayOutputStream healthyOut = new ByteArrayOutputStream();
        healthyOut.writeBytes(java.util.Arrays.copyOf(FillPagesGuest.expectedOutput(), 4));
        try (RunningVm healthy = vmm.restore(healthySnap, lazy, serialStoppingAfter(healthyOut, 0));
             RunningVm doomed = vmm.restore(doomedSnap, lazy, serialStoppingAfter(new ByteArrayOutputStream(), 0))) {
            assertTrue(doomed.awaitFinished(RestoreApiTest.BOUND), "the failed VM stopped");
            String why = doomed.failure().orElseThrow().getMessage();
            System.out.println("failed VM: " + why);
            assertTrue(why.contains("page source") && why.contains("0x9000"), why);
            assertTrue(healthy.awaitFinished(RestoreApiTest.BOUND), "the other VM finished");
            assertEquals(java.util.Optional.empty(), healthy.failure());
            assertArrayEquals(FillPagesGuest.expectedOutput(), healthyOut.toByteArray());
        }
    }

    private static ExitHandler serialStoppingAfter(ByteArrayOutputStream out, int bytes) {
        return (vcpu, exit) -> {
            if (exit instanceof VcpuExit.PortIo io && !io.in() && io.port() == TestVm.SERIAL) {
                synchronized (out) {
                    out.writeBytes(io.bytes());
                    return bytes > 0 && out.size() == bytes ? ExitHandler.Action.STOP : ExitHandler.Action.CONTINUE;
                }
            }
            if (exit instanceof VcpuExit.PortIo io && io.port() == TestVm.DONE_PORT) {
                return ExitHandler.Action.STOP;
            }
            return ExitHandler.unexpected(vcpu, exit);
        };
    }
}
