package io.sandboxd.vmm.kvm;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * Why KVM_RUN returned, decoded from {@code kvm_run}. Data segments point into the vCPU's kvm_run page and are
 * valid only until the next KVM_RUN on that vCPU (an IN or MMIO read is answered by writing into them).
 */
public sealed interface VcpuExit {
    /** {@code in}/{@code out} on {@code port}; {@code data} holds {@code size * count} bytes. */
    record PortIo(boolean in, int port, int size, int count, MemorySegment data) implements VcpuExit {
        /** The bytes an OUT wrote. */
        public byte[] bytes() {
            return data.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
        }
    }

    /** A guest access to a guest-physical address with no memory slot. */
    record Mmio(long address, int length, boolean write, MemorySegment data) implements VcpuExit {
        @Override
        public String toString() {
            return "Mmio[" + (write ? "write" : "read") + " of " + length + " bytes at 0x" + Long.toHexString(address) + "]";
        }
    }

    /**
     * A guest access to its RAM that KVM could not back with a host page, reported by KVM as MMIO: the memory
     * backend failed to provide that page (a page source I/O error, a truncated image). Never a device access.
     */
    record BadMemory(long address, int length, boolean write, MemorySlot slot) implements VcpuExit {
        @Override
        public String toString() {
            return "BadMemory[" + (write ? "write" : "read") + " at guest RAM 0x" + Long.toHexString(address)
                    + " (memory slot " + slot.slot() + "): the memory backend could not provide this page]";
        }
    }

    /** The guest executed HLT (only seen without an in-kernel LAPIC, or when KVM hands the halt to us). */
    record Halt() implements VcpuExit {
    }

    /** Triple fault or similar: the guest cannot continue. */
    record Shutdown(VcpuDump state) implements VcpuExit {
    }

    /** KVM_RUN returned EINTR: a kick (immediate_exit or a signal) stopped the vCPU between instructions. */
    record Interrupted() implements VcpuExit {
    }

    /** KVM could not continue the guest (e.g. an instruction its emulator does not handle). */
    record InternalError(int suberror, long[] data, VcpuDump state) implements VcpuExit {
        @Override
        public String toString() {
            return "InternalError[suberror=" + suberror + " (" + suberrorName(suberror) + "), data="
                    + Arrays.toString(Arrays.stream(data).mapToObj(Long::toHexString).toArray()) + ", state=" + state + "]";
        }

        static String suberrorName(int suberror) {
            return switch (suberror) {
                case 1 -> "emulation failure";
                case 2 -> "exception while delivering an exception";
                case 3 -> "exception while delivering an event";
                case 4 -> "unexpected exit reason";
                default -> "unknown";
            };
        }
    }

    /** The hardware refused to enter the guest (invalid guest state). */
    record FailEntry(long hardwareReason, int cpu, VcpuDump state) implements VcpuExit {
    }

    /** The guest asked for a reset, shutdown or reported a crash (PSCI-style system events). */
    record SystemEvent(int type) implements VcpuExit {
    }

    /** Any other exit reason; reported by number so nothing is silently dropped. */
    record Other(int exitReason, long hardwareExitReason) implements VcpuExit {
    }
}
