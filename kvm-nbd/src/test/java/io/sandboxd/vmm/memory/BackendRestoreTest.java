package io.sandboxd.vmm.memory;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sandboxd.vmm.KvmExtension;
import io.sandboxd.vmm.RunningVm;
import io.sandboxd.vmm.Vmm;
import io.sandboxd.vmm.VmSnapshot;
import io.sandboxd.vmm.arch.x86.X86Modes;
import io.sandboxd.vmm.kvm.ExitHandler;
import io.sandboxd.vmm.kvm.FillPagesGuest;
import io.sandboxd.vmm.kvm.Regs;
import io.sandboxd.vmm.kvm.TestVm;
import io.sandboxd.vmm.kvm.VcpuExit;
import io.sandboxd.vmm.snapshot.LayerWriter;
import io.sandboxd.vmm.snapshot.MemoryImage;
import java.io.ByteArrayOutputStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.BitSet;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The backends under a real guest, through vmm-core's restore API: the fill-pages guest is stopped after a few
 * pages, snapshotted, restored with each backend and run to its end; its output must equal an uninterrupted run.
 * A uffd restore faults only the pages the guest uses, and its diff snapshot holds exactly the pages it wrote.
 */
@ExtendWith(KvmExtension.class)
class BackendRestoreTest {
    private static final long MEMORY = 8L << 20;
    private static final Duration BOUND = Duration.ofSeconds(60);

    @TempDir
    Path dir;

    @ParameterizedTest
    @EnumSource(MemoryBackends.class)
    void aGuestSnapshottedMidRunFinishesTheSameAfterARestore(MemoryBackends backend, Vmm vmm) throws Exception {
        byte[] program = FillPagesGuest.compile();
        ByteArrayOutputStream before = new ByteArrayOutputStream();
        VmSnapshot snapshot;
        // Boot on eager memory made from an all-zero image, with the program copied in.
        MemoryImage empty = LayerWriter.writeBase(dir.resolve("boot"), MemorySegment.ofArray(new byte[(int) MEMORY]), 4096);
        MappedGuestMemory bootMemory = MemoryBackends.EAGER.create(empty);
        MemorySegment.copy(program, 0, bootMemory.host(), ValueLayout.JAVA_BYTE, TestVm.CODE, program.length);
        try (RunningVm vm = vmm.boot(bootMemory, 1,
                v -> X86Modes.longMode(v, bootMemory.host(), TestVm.CODE, TestVm.STACK, new Regs()), serial(before, 16))) {
            assertTrue(vm.awaitFinished(BOUND));
            assertEquals(java.util.Optional.empty(), vm.failure());
            snapshot = vmm.snapshotBase(vm, dir.resolve("image"));
        }
        assertEquals(16, before.size(), "four page checksums before the snapshot");

        ByteArrayOutputStream after = new ByteArrayOutputStream();
        VmSnapshot diff;
        try (RunningVm vm = vmm.restore(VmSnapshot.open(snapshot.memory().headerPath()), backend, serial(after, 0))) {
            assertTrue(vm.awaitFinished(BOUND), "guest finished");
            assertEquals(java.util.Optional.empty(), vm.failure());
            ByteArrayOutputStream all = new ByteArrayOutputStream();
            all.writeBytes(before.toByteArray());
            all.writeBytes(after.toByteArray());
            assertArrayEquals(FillPagesGuest.expectedOutput(), all.toByteArray());

            MappedGuestMemory memory = (MappedGuestMemory) vm.memory();
            if (backend == MemoryBackends.UFFD) {
                PageServerStats s = memory.pageServerStats().orElseThrow();
                // Code, stack, page tables, GDT and the 16 filled pages: a few dozen of the image's 2048.
                assertTrue(s.faults() >= FillPagesGuest.PAGES && s.faults() < 64, "faults: " + s);
            }
            diff = vmm.snapshot(vm);
            if (backend != MemoryBackends.EAGER) {
                BitSet written = memory.writtenPages();
                long fill = FillPagesGuest.FILL / 4096;
                for (long p = fill + 4; p < fill + FillPagesGuest.PAGES; p++) {
                    assertTrue(written.get((int) p), "page " + p + " was written after the restore: " + written);
                }
                assertTrue(written.cardinality() < 24, "only the remaining fill pages and the stack: " + written);
                assertEquals((long) written.cardinality() * 4096,
                        Files.size(diff.memory().layerPath(diff.memory().layerId())), "the diff holds exactly the pages written");
            }
        }
        // The second generation restores too, and the guest already finished there: its memory holds every page.
        try (RunningVm vm = vmm.restore(VmSnapshot.open(diff.memory().headerPath()), backend, serial(new ByteArrayOutputStream(), 0))) {
            MappedGuestMemory memory = (MappedGuestMemory) vm.memory();
            byte[] page = new byte[4096];
            memory.read(FillPagesGuest.FILL + 15 * 4096, MemorySegment.ofArray(page));
            long v = MemorySegment.ofArray(page).get(ValueLayout.JAVA_LONG_UNALIGNED, 8);
            assertEquals((15 * 0x9E3779B97F4A7C15L) ^ (0xBF58476D1CE4E5B9L), v, "page 15, word 1 after two generations");
        }
    }

    /** Collects serial bytes; stops after {@code stopAfter} of them (0: at the guest's done port). */
    private static ExitHandler serial(ByteArrayOutputStream out, int stopAfter) {
        AtomicInteger n = new AtomicInteger();
        return (vcpu, exit) -> {
            if (exit instanceof VcpuExit.PortIo io && !io.in() && io.port() == TestVm.SERIAL) {
                synchronized (out) {
                    out.writeBytes(io.bytes());
                }
                return stopAfter > 0 && n.incrementAndGet() == stopAfter ? ExitHandler.Action.STOP : ExitHandler.Action.CONTINUE;
            }
            if (exit instanceof VcpuExit.PortIo io && io.port() == TestVm.DONE_PORT) {
                return ExitHandler.Action.STOP;
            }
            if (exit instanceof VcpuExit.Halt) {
                return ExitHandler.Action.STOP;
            }
            return ExitHandler.unexpected(vcpu, exit);
        };
    }
}
