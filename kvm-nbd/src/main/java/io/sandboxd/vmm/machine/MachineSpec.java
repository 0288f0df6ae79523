package io.sandboxd.vmm.machine;

import io.sandboxd.vmm.boot.BootSpec;
import java.nio.file.Path;
import java.util.Objects;
import java.util.function.Consumer;

/**
 * What a microVM is made of: vCPUs, memory, what it boots (only used by {@link MicroVm#boot}: a restore has its
 * kernel in memory already), where its serial console goes (a log file, and a listener called once per line), the
 * guest's MAC address and the guest network settings its init reads from the kernel command line.
 */
public record MachineSpec(int vcpus, long memoryBytes, BootSpec boot, Path consoleLog, Consumer<String> consoleLines,
        String guestMac) {
    public MachineSpec {
        if (vcpus < 1 || vcpus > 32) {
            throw new IllegalArgumentException("a microVM has 1..32 vCPUs, got " + vcpus);
        }
        if (memoryBytes < 32L << 20 || memoryBytes % (2L << 20) != 0) {
            throw new IllegalArgumentException("a microVM has at least 32 MiB of memory, a multiple of 2 MiB; got "
                    + memoryBytes);
        }
        Objects.requireNonNull(consoleLog, "consoleLog");
        consoleLines = consoleLines == null ? line -> { } : consoleLines;
        Objects.requireNonNull(guestMac, "guestMac");
    }
}
