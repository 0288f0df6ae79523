package io.sandboxd.vmm.arch.x86;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.sandboxd.ffi.Kvm;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.junit.jupiter.api.Test;

/** The guest's CPUID table from a host table with every feature bit set: what is hidden, kept and added. */
class GuestCpuidTest {
    private static final int[][] LEAVES = {{0, 0}, {1, 0}, {7, 0}, {7, 1}, {0xb, 0}, {0xd, 0}, {0xd, 1},
            {0x4000_0000, 0}, {0x4000_0001, 0}, {0x8000_0001, 0}};

    private static byte[] hostTable() {
        int entry = (int) Kvm.kvm_cpuid_entry2.byteSize();
        ByteBuffer b = ByteBuffer.allocate((int) Kvm.cpuid2Size(LEAVES.length)).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(0, LEAVES.length);
        for (int i = 0; i < LEAVES.length; i++) {
            int at = 8 + i * entry;
            b.putInt(at, LEAVES[i][0]).putInt(at + 4, LEAVES[i][1]);
            for (int r = 0; r < 4; r++) {
                b.putInt(at + 12 + 4 * r, -1);
            }
        }
        return b.array();
    }

    @Test
    void hidesWhatTheEmulatorCannotRunAndAddsTheHypervisorAndApicId() {
        byte[] t = GuestCpuid.forVcpu(hostTable(), 3, 4);
        long l1c = GuestCpuid.register(t, 1, 0, 'c');
        for (int bit : new int[] {13, 23, 26, 27, 28}) { // CX16, POPCNT, XSAVE, OSXSAVE, AVX
            assertEquals(0, l1c & (1L << bit), "leaf 1 ECX bit " + bit);
        }
        assertEquals(1L << 31, l1c & (1L << 31), "hypervisor bit");
        assertEquals(1L << 21, l1c & (1L << 21), "x2APIC kept");
        long l1b = GuestCpuid.register(t, 1, 0, 'b');
        assertEquals(3, l1b >>> 24, "initial APIC id");
        assertEquals(4, (l1b >>> 16) & 0xff, "logical processors");
        assertEquals(0xffffffffL, GuestCpuid.register(t, 1, 0, 'd'), "leaf 1 EDX untouched");

        assertEquals((1L << 7) | (1L << 9), GuestCpuid.register(t, 7, 0, 'b'), "only SMEP and ERMS of leaf 7");
        assertEquals(0, GuestCpuid.register(t, 7, 0, 'c'), "no PKU, LA57, RDPID...");
        assertEquals(0, GuestCpuid.register(t, 7, 0, 'd'));
        assertEquals(0, GuestCpuid.register(t, 7, 0, 'a'), "no sub-leaves announced");
        assertEquals(3, GuestCpuid.register(t, 0xb, 0, 'd'), "x2APIC id");
        assertEquals(-1, GuestCpuid.register(t, 0xd, 0, 'a'), "XSAVE leaf dropped");
        assertEquals(-1, GuestCpuid.register(t, 0xd, 1, 'a'));

        assertEquals(0x4000_0001L, GuestCpuid.register(t, 0x4000_0000, 0, 'a'));
        assertEquals(0x4b4d564bL, GuestCpuid.register(t, 0x4000_0000, 0, 'b'), "KVMK");
        assertEquals(GuestCpuid.KVM_FEATURES_KEPT, GuestCpuid.register(t, 0x4000_0001, 0, 'a'), "kvm-clock only");
        assertEquals(1, GuestCpuid.register(t, 0x8000_0001, 0, 'c'), "LAHF only");
        assertEquals(0, GuestCpuid.register(t, 0x8000_0001, 0, 'd') & (1L << 27), "no RDTSCP");
        assertEquals(1L << 29, GuestCpuid.register(t, 0x8000_0001, 0, 'd') & (1L << 29), "long mode kept");
    }

    @Test
    void theTableShrinksByTheDroppedLeavesAndRefusesALyingHeader() {
        byte[] t = GuestCpuid.forVcpu(hostTable(), 0, 1);
        assertEquals(LEAVES.length - 2, ByteBuffer.wrap(t).order(ByteOrder.LITTLE_ENDIAN).getInt(0));
        assertEquals(Kvm.cpuid2Size(LEAVES.length - 2), t.length);
        byte[] lying = hostTable();
        ByteBuffer.wrap(lying).order(ByteOrder.LITTLE_ENDIAN).putInt(0, 1000);
        assertThrows(IllegalArgumentException.class, () -> GuestCpuid.forVcpu(lying, 0, 1));
    }
}
