package io.sandboxd.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sandboxd.vmm.kvm.KvmAssumptions;
import io.sandboxd.vmm.kvm.KvmSystem;
import java.io.ByteArrayOutputStream;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** 500 restore/run/destroy cycles: every fd and mapping a VM makes is released when it is destroyed. */
class RestoreSoakTest {
    private static final int CYCLES = 500;
    private static final int WARM_UP = 20;

    @Test
    void fiveHundredRestoreDestroyCyclesLeaveNoFdOrMappingBehind(@TempDir Path dir) throws Exception {
        KvmAssumptions.assumeKvm();
        try (KvmSystem kvm = KvmSystem.open()) {
            Vmm vmm = new Vmm(kvm);
            VmSnapshot snap;
            try (RunningVm vm = RestoreApiTest.bootWith(vmm, new ByteArrayOutputStream(), 2)) {
                snap = vmm.snapshotBase(vm, dir);
            }
            // Warm up first: class loading, JIT threads and glibc's cache of thread stacks settle in the first cycles.
            for (int i = 0; i < WARM_UP; i++) {
                cycle(vmm, snap);
            }
            ResourceCount before = ResourceCount.now();
            long started = System.nanoTime();
            for (int i = 0; i < CYCLES; i++) {
                cycle(vmm, snap);
            }
            long perCycleMicros = (System.nanoTime() - started) / CYCLES / 1000;
            ResourceCount after = ResourceCount.now();
            System.out.println("soak: " + CYCLES + " cycles, " + perCycleMicros + " us each, " + before + " -> " + after);
            ResourceCount.assertNoGrowth(before, after, CYCLES);
        }
    }

    /** Restore, run the guest a little (one output), destroy. */
    private static void cycle(Vmm vmm, VmSnapshot snap) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        RunningVm vm = vmm.restore(snap, AnonymousTestMemory.EAGER_COPY, RestoreApiTest.devices(out, 1));
        try {
            assertTrue(vm.awaitFinished(RestoreApiTest.BOUND));
            assertEquals(1, out.size());
        } finally {
            vmm.destroy(vm);
        }
    }
}
