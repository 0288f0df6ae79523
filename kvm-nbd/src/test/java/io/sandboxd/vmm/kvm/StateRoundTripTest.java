package io.sandboxd.vmm.kvm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sandboxd.vmm.KvmExtension;
import io.sandboxd.ffi.Kvm;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** Each part of the machine state survives save -> restore into a fresh VM -> save unchanged. */
@ExtendWith(KvmExtension.class)
class StateRoundTripTest {
    /** Counters that move on their own between two saves. */
    private static final int MSR_IA32_TSC = 0x10;

    private static MachineState midRun() throws Exception {
        try (TestVm t = new TestVm(TestGuests.COUNTING_LOOP, 4L << 20, true);
             VcpuThread thread = new VcpuThread(t.vcpu, (v, e) -> e instanceof VcpuExit.PortIo io
                     && io.port() == TestVm.SERIAL ? ExitHandler.Action.STOP : ExitHandler.unexpected(v, e)).start()) {
            // stop after the first output: xmm0, the data page and the counters are all non-zero by then
            assertTrue(thread.join(Duration.ofSeconds(10)));
            t.vcpu.completePendingIo();
            return t.vm.saveMachineState();
        }
    }

    @Test
    void everyVcpuAndVmRecordRoundTripsThroughAFreshVm() throws Exception {
        MachineState first = midRun();
        VcpuState a = first.vcpus().get(0);
        MachineState second;
        try (TestVm fresh = new TestVm(new byte[0], 4L << 20, true)) {
            fresh.vm.restoreMachineState(first);
            second = fresh.vm.saveMachineState();
        }
        VcpuState b = second.vcpus().get(0);
        assertArrayEquals(a.cpuid(), b.cpuid(), "cpuid");
        assertEquals(a.mpState(), b.mpState(), "mp state");
        assertEquals(a.generalRegisters(), b.generalRegisters(), "regs");
        assertEquals(a.specialRegisters(), b.specialRegisters(), "sregs");
        assertArrayEquals(a.xsave(), b.xsave(), "xsave");
        assertArrayEquals(a.xcrs(), b.xcrs(), "xcrs");
        assertArrayEquals(a.debugregs(), b.debugregs(), "debug regs");
        assertArrayEquals(a.lapic(), b.lapic(), "lapic");
        assertArrayEquals(a.events(), b.events(), "vcpu events");
        assertArrayEquals(a.msrIndices(), b.msrIndices(), "msr list");
        List<String> msrDiffs = new ArrayList<>();
        for (int i = 0; i < a.msrIndices().length; i++) {
            if (a.msrIndices()[i] != MSR_IA32_TSC && a.msrValues()[i] != b.msrValues()[i]) {
                msrDiffs.add(Integer.toHexString(a.msrIndices()[i]) + ": " + Long.toHexString(a.msrValues()[i]) + " -> "
                        + Long.toHexString(b.msrValues()[i]));
            }
        }
        assertEquals(List.of(), msrDiffs, "MSRs other than the TSC");
        assertTrue(a.msrIndices().length > 10, "a real MSR list was saved: " + a.msrIndices().length);

        assertArrayEquals(first.vm().picMaster(), second.vm().picMaster(), "PIC master");
        assertArrayEquals(first.vm().picSlave(), second.vm().picSlave(), "PIC slave");
        assertArrayEquals(first.vm().ioapic(), second.vm().ioapic(), "IOAPIC");
        assertPitEqualButForLoadTimes(first.vm().pit(), second.vm().pit());
        long clockA = MemorySegment.ofArray(first.vm().clock()).get(ValueLayout.JAVA_LONG_UNALIGNED, 0);
        long clockB = MemorySegment.ofArray(second.vm().clock()).get(ValueLayout.JAVA_LONG_UNALIGNED, 0);
        assertTrue(clockB >= clockA, "kvmclock does not go backwards across a restore: " + clockA + " -> " + clockB);

        // The state is not trivially empty: the guest's xmm0 (loaded from its data) is in the XSAVE area.
        long xmm0 = MemorySegment.ofArray(a.xsave()).get(ValueLayout.JAVA_LONG_UNALIGNED, 160);
        assertNotEquals(0L, xmm0, "xmm0 in the legacy XSAVE region (offset 160)");
    }

    /** count_load_time is a host timestamp, re-based by KVM on restore; everything else must be equal. */
    private static void assertPitEqualButForLoadTimes(byte[] a, byte[] b) {
        long loadTime = Kvm.kvm_pit_channel_state.byteOffset(java.lang.foreign.MemoryLayout.PathElement.groupElement(
                "count_load_time"));
        byte[] x = a.clone();
        byte[] y = b.clone();
        for (int ch = 0; ch < 3; ch++) {
            int o = (int) (ch * Kvm.kvm_pit_channel_state.byteSize() + loadTime);
            java.util.Arrays.fill(x, o, o + 8, (byte) 0);
            java.util.Arrays.fill(y, o, o + 8, (byte) 0);
        }
        assertArrayEquals(x, y, "PIT");
    }

    @Test
    void restoringIntoAVmWithADifferentVcpuCountIsRefused() throws Exception {
        MachineState s = midRun();
        try (TestVm fresh = new TestVm(new byte[0], 4L << 20, true)) {
            fresh.vm.createVcpu(1);
            IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                    () -> fresh.vm.restoreMachineState(s));
            assertTrue(e.getMessage().contains("1 vCPUs"), e.getMessage());
        }
    }
}
