package io.sandboxd.vmm.machine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sandboxd.vmm.KvmExtension;
import io.sandboxd.vmm.ResourceCount;
import io.sandboxd.vmm.kvm.KvmBackend;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * The boot-test cycle on the real test kernel in our VMM (minutes under an instruction emulator: a correctness
 * test, not a timed one), then restores of the same snapshot that must leave fds and mappings as they were.
 * Needs /dev/kvm and root; skipped, saying why, without them.
 *
 * <p>Also skipped where /dev/kvm is not hardware-backed (PVM) unless {@code -Dsandboxd.bootTest.emulated=true}:
 * there the stock kernel runs in KVM's instruction emulator, which lacks instructions a kernel uses (the first one
 * met, {@code int3}, is patched out of our test kernel; more may follow) and takes minutes per boot, so a pass or a
 * stop says more about the host's emulator than about our VMM. {@code .ci/run} still runs the whole cycle there as
 * a report ({@code sandboxd vm boot-test}) that prints how far the guest got.
 */
@ExtendWith(KvmExtension.class)
class MicroVmBootCycleTest {
    @Test
    void bootsSnapshotsRestoresAndTheGuestAnswersThroughout(@TempDir Path work) throws Exception {
        KvmBackend backend = KvmBackend.detect();
        Assumptions.assumeTrue(backend.hardware() || Boolean.getBoolean("sandboxd.bootTest.emulated"),
                () -> "/dev/kvm is " + backend.description() + ", not hardware virtualization: the stock test kernel "
                        + "would run in KVM's instruction emulator (set -Dsandboxd.bootTest.emulated=true to run it "
                        + "anyway; .ci/run reports it with sandboxd vm boot-test)");
        Path guest = TestGuestBuild.guest();
        List<String> lines = new ArrayList<>();
        int restores = Integer.getInteger("sandboxd.bootTest.restores", 500) / 3;
        // the cycle's own boot and restore warm up what stays (JIT, thread stacks); the timed restores are counted
        BootTestCycle.Result r = new BootTestCycle(new BootTestCycle.Options(guest, work, 256L << 20,
                Duration.ofMinutes(30), Duration.ofMinutes(5), restores), line -> {
                    System.out.println(line);
                    lines.add(line);
                }).run();
        assertTrue(r.userspaceSeconds() > 0);
        assertTrue(lines.stream().anyMatch(l -> l.contains("sandboxd-init: disk says: data hello from the virtio-blk disk")),
                "the guest read its disk");
        assertEquals(3, r.timings().size(), "one row per memory backend");
        ResourceCount.assertNoGrowth(new ResourceCount(r.fdsBeforeAfter()[0], r.mappingsBeforeAfter()[0]),
                new ResourceCount(r.fdsBeforeAfter()[1], r.mappingsBeforeAfter()[1]), 3 * restores);
    }
}
