package io.sandboxd.vmm.kvm;

import io.sandboxd.ffi.Kvm;
import java.util.Arrays;
import java.util.Objects;

/**
 * VM-wide KVM state as plain data: the in-kernel PIT ({@code kvm_pit_state2}), the KVM clock
 * ({@code kvm_clock_data}) and the three interrupt controllers ({@code kvm_irqchip} for the PIC master, PIC slave
 * and IOAPIC). Each is the C struct's bytes: we save and restore them, we never interpret them.
 */
public record VmState(byte[] pit, byte[] clock, byte[] picMaster, byte[] picSlave, byte[] ioapic) {
    public VmState {
        check("pit", pit, Kvm.kvm_pit_state2.byteSize());
        check("clock", clock, Kvm.kvm_clock_data.byteSize());
        check("picMaster", picMaster, Kvm.kvm_irqchip.byteSize());
        check("picSlave", picSlave, Kvm.kvm_irqchip.byteSize());
        check("ioapic", ioapic, Kvm.kvm_irqchip.byteSize());
    }

    static void check(String name, byte[] blob, long size) {
        Objects.requireNonNull(blob, name);
        if (blob.length != size) {
            throw new IllegalArgumentException("VM state " + name + " must be " + size + " bytes, got " + blob.length);
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof VmState s && Arrays.equals(pit, s.pit) && Arrays.equals(clock, s.clock)
                && Arrays.equals(picMaster, s.picMaster) && Arrays.equals(picSlave, s.picSlave)
                && Arrays.equals(ioapic, s.ioapic);
    }

    @Override
    public int hashCode() {
        return Objects.hash(Arrays.hashCode(pit), Arrays.hashCode(clock), Arrays.hashCode(picMaster),
                Arrays.hashCode(picSlave), Arrays.hashCode(ioapic));
    }

    @Override
    public String toString() {
        return "VmState[pit, clock, picMaster, picSlave, ioapic]";
    }
}
