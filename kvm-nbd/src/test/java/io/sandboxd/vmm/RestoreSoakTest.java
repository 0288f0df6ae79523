package io.sandboxd.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sandboxd.vmm.kvm.TestVm;
import java.io.ByteArrayOutputStream;
import java.nio.file.Path;
import io.sandboxd.vmm.memory.MemoryBackends;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * 500 restore/run/destroy cycles per memory backend: every fd, mapping and thread a VM and its memory make is
 * released when it is destroyed.
 */
@ExtendWith(KvmExtension.class)
class RestoreSoakTest {
    private static final int CYCLES = 500;
    private static final int WARM_UP = 20;

    static java.util.stream.Stream<MemoryBackend> backends() {
        return java.util.stream.Stream.of(MemoryBackends.EAGER, MemoryBackends.PRIVATE_MAP, MemoryBackends.UFFD);
    }

    @ParameterizedTest
    @MethodSource("backends")
    void fiveHundredRestoreDestroyCyclesLeaveNoFdOrMappingBehind(MemoryBackend backend, @TempDir Path dir, Vmm vmm)
            throws Exception {
        VmSnapshot snap = RestoreApiTest.bootAndSnapshot(vmm, new ByteArrayOutputStream(), 2, dir);
        // Warm up first: class loading, JIT threads and glibc's cache of thread stacks settle in the first cycles.
        for (int i = 0; i < WARM_UP; i++) {
            cycle(vmm, snap, backend);
        }
        ResourceCount before = ResourceCount.now();
        long started = System.nanoTime();
        for (int i = 0; i < CYCLES; i++) {
            cycle(vmm, snap, backend);
        }
        long perCycleMicros = (System.nanoTime() - started) / CYCLES / 1000;
        ResourceCount after = ResourceCount.now();
        System.out.println("soak " + backend + ": " + CYCLES + " cycles, " + perCycleMicros + " us each, " + before + " -> " + after);
        ResourceCount.assertNoGrowth(before, after, CYCLES);
    }

    /** Restore, run the guest a little (one output), destroy. */
    private static void cycle(Vmm vmm, VmSnapshot snap, MemoryBackend backend) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        RunningVm vm = vmm.restore(snap, backend, TestVm.serialOutput(out, 1));
        try {
            assertTrue(vm.awaitFinished(RestoreApiTest.BOUND));
            assertEquals(1, out.size());
        } finally {
            vmm.destroy(vm);
        }
    }
}
