package io.sandboxd.vmm.kvm;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;

import io.sandboxd.ffi.Kvm;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

/**
 * A copy of {@code struct kvm_sregs} (segments, descriptor tables, control registers, EFER, APIC base, pending
 * interrupt bitmap) kept as its C bytes, with accessors for what boot code and error messages need.
 */
public final class Sregs {
    static final long SIZE = Kvm.kvm_sregs.byteSize();
    private static final long SEGMENT_SIZE = Kvm.kvm_segment.byteSize();

    /** One {@code struct kvm_segment}. */
    public record Segment(long base, int limit, int selector, int type, boolean present, int dpl, boolean db,
                          boolean s, boolean l, boolean g, boolean avl, boolean unusable) {
        /** A flat 4 GiB code segment; {@code longMode} sets L (64-bit code) and clears D. */
        public static Segment flatCode(int selector, boolean longMode) {
            return new Segment(0, 0xffffffff, selector, 0xb, true, 0, !longMode, true, longMode, true, false, false);
        }

        /** A flat 4 GiB read/write data segment. */
        public static Segment flatData(int selector) {
            return new Segment(0, 0xffffffff, selector, 0x3, true, 0, true, true, false, true, false, false);
        }
    }

    private final byte[] raw;
    private final MemorySegment view;

    private Sregs(byte[] raw) {
        this.raw = raw;
        this.view = MemorySegment.ofArray(raw);
    }

    public static Sregs fromBytes(byte[] raw) {
        if (raw.length != SIZE) {
            throw new IllegalArgumentException("kvm_sregs is " + SIZE + " bytes, got " + raw.length);
        }
        return new Sregs(raw.clone());
    }

    public byte[] toBytes() {
        return raw.clone();
    }


    private static long off(String... path) {
        var elements = new java.lang.foreign.MemoryLayout.PathElement[path.length];
        for (int i = 0; i < path.length; i++) {
            elements[i] = groupElement(path[i]);
        }
        return Kvm.kvm_sregs.byteOffset(elements);
    }

    private long getLong(String field) {
        return view.get(ValueLayout.JAVA_LONG_UNALIGNED, off(field));
    }

    private Sregs setLong(String field, long value) {
        view.set(ValueLayout.JAVA_LONG_UNALIGNED, off(field), value);
        return this;
    }

    public long cr0() {
        return getLong("cr0");
    }

    public Sregs cr0(long v) {
        return setLong("cr0", v);
    }

    public long cr3() {
        return getLong("cr3");
    }

    public Sregs cr3(long v) {
        return setLong("cr3", v);
    }

    public long cr4() {
        return getLong("cr4");
    }

    public Sregs cr4(long v) {
        return setLong("cr4", v);
    }

    public long efer() {
        return getLong("efer");
    }

    public Sregs efer(long v) {
        return setLong("efer", v);
    }

    public long apicBase() {
        return getLong("apic_base");
    }

    /** Sets {@code gdt} or {@code idt}. */
    public Sregs table(String name, long base, int limit) {
        view.set(ValueLayout.JAVA_LONG_UNALIGNED, off(name, "base"), base);
        view.set(ValueLayout.JAVA_SHORT_UNALIGNED, off(name, "limit"), (short) limit);
        return this;
    }

    /** Reads segment {@code cs, ds, es, fs, gs, ss, tr} or {@code ldt}. */
    public Segment segment(String name) {
        long o = off(name);
        return new Segment(view.get(ValueLayout.JAVA_LONG_UNALIGNED, o),
                view.get(ValueLayout.JAVA_INT_UNALIGNED, o + 8),
                view.get(ValueLayout.JAVA_SHORT_UNALIGNED, o + 12) & 0xffff,
                byteAt(o + 14), byteAt(o + 15) != 0, byteAt(o + 16), byteAt(o + 17) != 0, byteAt(o + 18) != 0,
                byteAt(o + 19) != 0, byteAt(o + 20) != 0, byteAt(o + 21) != 0, byteAt(o + 22) != 0);
    }

    public Sregs segment(String name, Segment s) {
        long o = off(name);
        if (o >= 8 * SEGMENT_SIZE) {
            throw new IllegalArgumentException(name + " is not a segment register");
        }
        view.set(ValueLayout.JAVA_LONG_UNALIGNED, o, s.base());
        view.set(ValueLayout.JAVA_INT_UNALIGNED, o + 8, s.limit());
        view.set(ValueLayout.JAVA_SHORT_UNALIGNED, o + 12, (short) s.selector());
        raw[(int) o + 14] = (byte) s.type();
        raw[(int) o + 15] = flag(s.present());
        raw[(int) o + 16] = (byte) s.dpl();
        raw[(int) o + 17] = flag(s.db());
        raw[(int) o + 18] = flag(s.s());
        raw[(int) o + 19] = flag(s.l());
        raw[(int) o + 20] = flag(s.g());
        raw[(int) o + 21] = flag(s.avl());
        raw[(int) o + 22] = flag(s.unusable());
        return this;
    }

    private int byteAt(long o) {
        return raw[(int) o] & 0xff;
    }

    private static byte flag(boolean b) {
        return (byte) (b ? 1 : 0);
    }

    /** The registers that say what mode the vCPU is in, for error messages. */
    public String summary() {
        Segment cs = segment("cs");
        return "Sregs[cr0=" + Long.toHexString(cr0()) + " cr3=" + Long.toHexString(cr3()) + " cr4="
                + Long.toHexString(cr4()) + " efer=" + Long.toHexString(efer()) + " cs=" + Integer.toHexString(cs.selector())
                + " cs.base=" + Long.toHexString(cs.base()) + " cs.l=" + cs.l() + " cs.db=" + cs.db() + "]";
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Sregs s && Arrays.equals(raw, s.raw);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(raw);
    }

    @Override
    public String toString() {
        return summary();
    }
}
