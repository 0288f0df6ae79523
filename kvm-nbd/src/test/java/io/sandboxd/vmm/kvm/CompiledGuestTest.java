package io.sandboxd.vmm.kvm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sandboxd.vmm.KvmExtension;
import java.io.ByteArrayOutputStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** A C guest built with gcc at test time fills pages and reports checksums; pausing and restoring it mid-run is invisible. */
@ExtendWith(KvmExtension.class)
class CompiledGuestTest {
    private static final Duration BOUND = Duration.ofSeconds(60);

    private static ExitHandler serial(ByteArrayOutputStream out) {
        return (vcpu, exit) -> {
            if (exit instanceof VcpuExit.PortIo io && !io.in() && io.port() == TestVm.SERIAL) {
                synchronized (out) {
                    out.writeBytes(io.bytes());
                }
                return ExitHandler.Action.CONTINUE;
            }
            if (exit instanceof VcpuExit.PortIo io && io.port() == TestVm.DONE_PORT) {
                return ExitHandler.Action.STOP;
            }
            return ExitHandler.unexpected(vcpu, exit);
        };
    }

    @Test
    void theCompiledGuestReportsTheChecksumsOfWhatItWrote() throws Exception {
        byte[] guest = FillPagesGuest.compile();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (TestVm t = new TestVm(guest, 8L << 20, true);
             VcpuThread thread = new VcpuThread(t.vcpu, serial(out)).start()) {
            assertTrue(thread.join(BOUND), "guest finished");
            assertEquals(null, thread.failure());
            assertArrayEquals(FillPagesGuest.expectedOutput(), out.toByteArray());
            assertEquals(0x9E3779B97F4A7C15L ^ 0xBF58476D1CE4E5B9L * 3,
                    t.memory.get(ValueLayout.JAVA_LONG, FillPagesGuest.FILL + 4096 + 3 * 8), "page 1, word 3 in guest memory");
        }
    }

    @Test
    void pausedSavedAndRestoredMidRunItReportsTheSame() throws Exception {
        byte[] guest = FillPagesGuest.compile();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        MachineState state;
        byte[] memory;
        try (TestVm t = new TestVm(guest, 8L << 20, true);
             VcpuThread thread = new VcpuThread(t.vcpu, serial(out)).start()) {
            while (true) {
                synchronized (out) {
                    if (out.size() >= 4 * 5) {
                        break;
                    }
                }
                Thread.sleep(1);
            }
            if (!thread.pause(BOUND) || out.size() == 4 * (FillPagesGuest.PAGES + 1)) {
                org.junit.jupiter.api.Assumptions.abort("the guest finished before the kick landed: this host runs it "
                        + "too fast for a mid-run kick (PVM does not)");
            }
            state = t.vm.saveMachineState();
            memory = t.memory.toArray(ValueLayout.JAVA_BYTE);
        }
        assertTrue(out.size() < 4 * (FillPagesGuest.PAGES + 1), "paused before the end: " + out.size());
        try (TestVm fresh = new TestVm(new byte[0], 8L << 20, true);
             VcpuThread thread = new VcpuThread(fresh.vcpu, serial(out))) {
            MemorySegment.copy(memory, 0, fresh.memory, ValueLayout.JAVA_BYTE, 0, memory.length);
            fresh.vm.restoreMachineState(MachineStateCodec.decode(MachineStateCodec.encode(state)));
            thread.start();
            assertTrue(thread.join(BOUND), "restored guest finished");
            assertEquals(null, thread.failure());
        }
        assertArrayEquals(FillPagesGuest.expectedOutput(), out.toByteArray());
    }
}
