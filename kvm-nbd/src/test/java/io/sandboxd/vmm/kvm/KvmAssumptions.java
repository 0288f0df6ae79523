package io.sandboxd.vmm.kvm;

import org.junit.jupiter.api.Assumptions;

/** Skips a test, saying why, on a machine where /dev/kvm cannot be used. */
public final class KvmAssumptions {
    private static final java.util.Optional<String> REASON = KvmSystem.unavailableReason();

    private KvmAssumptions() {
    }

    public static void assumeKvm() {
        REASON.ifPresent(r -> System.out.println("SKIPPED (needs /dev/kvm): " + r));
        Assumptions.assumeTrue(REASON.isEmpty(), () -> "needs /dev/kvm: " + REASON.orElse(""));
    }
}
