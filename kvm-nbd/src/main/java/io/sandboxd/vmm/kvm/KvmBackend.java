package io.sandboxd.vmm.kvm;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Which kernel module stands behind /dev/kvm, read from {@code /sys/module}. It matters because the same ioctls mean
 * very different guests: with VT-x or AMD-V a stock Linux kernel runs at native speed; under PVM (software KVM for
 * nested hosts) a guest that is not a PVM-enabled kernel runs in KVM's instruction emulator, thousands of times
 * slower, and stops at the first instruction that emulator lacks.
 */
public enum KvmBackend {
    INTEL("Intel VT-x", true),
    AMD("AMD-V", true),
    PVM("PVM (software KVM for nested hosts, module kvm_pvm)", false),
    UNKNOWN("unknown (no kvm_intel, kvm_amd or kvm_pvm module)", false);

    public static final Path SYS_MODULE = Path.of("/sys/module");

    private final String description;
    private final boolean hardware;

    KvmBackend(String description, boolean hardware) {
        this.description = description;
        this.hardware = hardware;
    }

    /** This host's backend. */
    public static KvmBackend detect() {
        return detect(SYS_MODULE);
    }

    /**
     * The backend named by the modules under {@code sysModule}. PVM wins over a hardware module also present: a
     * nested host may have kvm_intel loaded (unbound, with no VT-x to drive) beside the kvm_pvm that serves /dev/kvm.
     */
    public static KvmBackend detect(Path sysModule) {
        if (Files.exists(sysModule.resolve("kvm_pvm"))) {
            return PVM;
        }
        if (Files.exists(sysModule.resolve("kvm_intel"))) {
            return INTEL;
        }
        if (Files.exists(sysModule.resolve("kvm_amd"))) {
            return AMD;
        }
        return UNKNOWN;
    }

    public String description() {
        return description;
    }

    /** Guest code runs on the CPU (not in an emulator): a stock kernel boots in well under a second. */
    public boolean hardware() {
        return hardware;
    }
}
