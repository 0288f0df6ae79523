package io.sandboxd.vmm.kvm;

import io.sandboxd.ffi.Kvm;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

/**
 * A copy of {@code struct kvm_regs}: the 18 general registers in their C order, as plain data.
 */
public final class Regs {
    private static final String[] NAMES = {"rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rsp", "rbp", "r8", "r9", "r10",
        "r11", "r12", "r13", "r14", "r15", "rip", "rflags"};
    static final long SIZE = Kvm.kvm_regs.byteSize();

    private final long[] values;

    public Regs() {
        this(new long[NAMES.length]);
        set("rflags", 0x2); // bit 1 of RFLAGS is reserved and always set
    }

    private Regs(long[] values) {
        if (values.length * 8L != SIZE) {
            throw new IllegalArgumentException("kvm_regs holds " + SIZE / 8 + " registers, got " + values.length);
        }
        this.values = values;
    }

    /** Decodes {@code kvm_regs} bytes. */
    public static Regs fromBytes(byte[] raw) {
        if (raw.length != SIZE) {
            throw new IllegalArgumentException("kvm_regs is " + SIZE + " bytes, got " + raw.length);
        }
        return new Regs(MemorySegment.ofArray(raw).toArray(ValueLayout.JAVA_LONG_UNALIGNED));
    }

    public byte[] toBytes() {
        return MemorySegment.ofArray(values.clone()).toArray(ValueLayout.JAVA_BYTE);
    }


    private static int index(String name) {
        long off = Kvm.kvm_regs.byteOffset(MemoryLayout.PathElement.groupElement(name));
        return (int) (off / 8);
    }

    public long get(String name) {
        return values[index(name)];
    }

    public Regs set(String name, long value) {
        values[index(name)] = value;
        return this;
    }

    public long rax() {
        return values[0];
    }

    public long rbx() {
        return values[1];
    }

    public long rcx() {
        return values[2];
    }

    public long rip() {
        return values[16];
    }

    public long rflags() {
        return values[17];
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Regs r && Arrays.equals(values, r.values);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(values);
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("Regs[");
        for (int i = 0; i < NAMES.length; i++) {
            sb.append(i == 0 ? "" : " ").append(NAMES[i]).append('=').append(Long.toHexString(values[i]));
        }
        return sb.append(']').toString();
    }
}
