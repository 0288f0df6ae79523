package io.sandboxd.vmm.devices.legacy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.sandboxd.vmm.devices.InvalidDeviceStateException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The controller as Linux probes it, and its reset line. */
class I8042Test {
    final AtomicInteger resets = new AtomicInteger();
    final I8042 kbc = new I8042(resets::incrementAndGet);
    final Arena arena = Arena.ofAuto();

    int in(int port) {
        MemorySegment d = arena.allocate(1);
        kbc.in(port, d);
        return Byte.toUnsignedInt(d.get(ValueLayout.JAVA_BYTE, 0));
    }

    void out(int port, int value) {
        MemorySegment d = arena.allocate(1);
        d.set(ValueLayout.JAVA_BYTE, 0, (byte) value);
        kbc.out(port, d);
    }

    @Test
    void answersTheSelfTestCommandByteAndInterfaceTest() {
        assertEquals(0, in(I8042.COMMAND) & I8042.STATUS_OBF, "nothing to read at first");
        out(I8042.COMMAND, I8042.CMD_SELF_TEST);
        assertEquals(I8042.STATUS_OBF, in(I8042.COMMAND) & I8042.STATUS_OBF);
        assertEquals(I8042.SELF_TEST_OK, in(I8042.DATA));
        assertEquals(0, in(I8042.COMMAND) & I8042.STATUS_OBF, "reading the data port empties the buffer");
        out(I8042.COMMAND, I8042.CMD_WRITE_CTR);
        out(I8042.DATA, 0x47);
        out(I8042.COMMAND, I8042.CMD_READ_CTR);
        assertEquals(0x47, in(I8042.DATA));
        out(I8042.COMMAND, I8042.CMD_KBD_TEST);
        assertEquals(0x00, in(I8042.DATA));
        assertEquals(0xff, in(0x62), "not its port");
        assertEquals(0, resets.get());
    }

    @Test
    void pulsingTheResetLineOrDroppingTheResetBitResets() {
        out(I8042.COMMAND, I8042.CMD_PULSE_RESET);
        assertEquals(1, resets.get());
        out(I8042.COMMAND, I8042.CMD_WRITE_OUTPUT_PORT);
        out(I8042.DATA, 0x03);
        assertEquals(1, resets.get(), "reset bit still set: no reset");
        out(I8042.COMMAND, I8042.CMD_WRITE_OUTPUT_PORT);
        out(I8042.DATA, 0x02);
        assertEquals(2, resets.get());
    }

    @Test
    void savesRestoresAndRefusesBadState() throws Exception {
        out(I8042.COMMAND, I8042.CMD_SELF_TEST);
        out(I8042.COMMAND, I8042.CMD_WRITE_CTR);
        byte[] state = kbc.saveState();
        I8042 back = new I8042(() -> { });
        back.restoreState(state);
        assertArrayEquals(state, back.saveState());
        byte[] bad = state.clone();
        java.nio.ByteBuffer.wrap(bad).putInt(16, 0x99);
        assertThrows(InvalidDeviceStateException.class, () -> back.restoreState(bad));
        assertThrows(InvalidDeviceStateException.class, () -> back.restoreState(new byte[3]));
    }
}
