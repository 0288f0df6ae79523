package io.sandboxd.vmm.devices.legacy;

import io.sandboxd.vmm.devices.InvalidDeviceStateException;
import io.sandboxd.vmm.devices.PortDevice;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;

/**
 * An i8042 keyboard controller with nothing plugged in: enough for Linux to probe it (self test, command byte,
 * interface test) and find no keyboard, and for the one thing a microVM needs from it: command 0xFE (pulse the
 * reset line), or an output-port write that drops the reset bit, is how Linux reboots ({@code reboot=k}); both call
 * the reset callback, which ends the machine's run.
 *
 * <p>It answers on ports 0x60 (data) and 0x64 (status / command); 0x61-0x63 are not its own (the PIT's speaker
 * port 0x61 is handled inside KVM) and read as 0xff.
 */
public final class I8042 implements PortDevice {
    public static final int DATA = 0x60;
    public static final int COMMAND = 0x64;
    static final int STATUS_OBF = 0x01;
    static final int STATUS_SYS = 0x04;
    static final int STATUS_CMD = 0x08;
    static final int STATUS_UNLOCKED = 0x10;
    static final int CMD_READ_CTR = 0x20;
    static final int CMD_WRITE_CTR = 0x60;
    static final int CMD_AUX_DISABLE = 0xa7;
    static final int CMD_AUX_ENABLE = 0xa8;
    static final int CMD_AUX_TEST = 0xa9;
    static final int CMD_SELF_TEST = 0xaa;
    static final int CMD_KBD_TEST = 0xab;
    static final int CMD_KBD_DISABLE = 0xad;
    static final int CMD_KBD_ENABLE = 0xae;
    static final int CMD_WRITE_OUTPUT_PORT = 0xd1;
    static final int CMD_PULSE_RESET = 0xfe;
    static final int SELF_TEST_OK = 0x55;
    static final int OUTPUT_PORT_RESET = 0x01; // active low: writing 0 here resets the CPU
    static final int STATE_VERSION = 1;

    private final Runnable reset;
    private int status = STATUS_UNLOCKED;
    private int ctr = 0x61; // keyboard interrupt on, translation on, aux disabled
    private int output = -1; // a byte for the guest to read from 0x60, or -1
    private int pendingCommand = -1; // a command waiting for its data byte on 0x60

    public I8042(Runnable reset) {
        this.reset = reset;
    }

    @Override
    public String name() {
        return "i8042";
    }

    @Override
    public int basePort() {
        return DATA;
    }

    @Override
    public int portCount() {
        return COMMAND - DATA + 1;
    }

    @Override
    public synchronized void in(int port, MemorySegment data) {
        int value;
        if (port == DATA) {
            value = output < 0 ? 0 : output;
            output = -1;
            status &= ~STATUS_OBF;
        } else if (port == COMMAND) {
            value = status;
        } else {
            value = 0xff;
        }
        data.fill((byte) 0xff);
        data.set(ValueLayout.JAVA_BYTE, 0, (byte) value);
    }

    @Override
    public synchronized void out(int port, MemorySegment data) {
        int value = Byte.toUnsignedInt(data.get(ValueLayout.JAVA_BYTE, 0));
        if (port == COMMAND) {
            status |= STATUS_CMD;
            command(value);
        } else if (port == DATA) {
            status &= ~STATUS_CMD;
            int command = pendingCommand;
            pendingCommand = -1;
            if (command == CMD_WRITE_CTR) {
                ctr = value;
                status = (status & ~STATUS_SYS) | (value & STATUS_SYS);
            } else if (command == CMD_WRITE_OUTPUT_PORT && (value & OUTPUT_PORT_RESET) == 0) {
                reset.run();
            }
            // A byte for the keyboard: there is none, so no answer (Linux times out and carries on).
        }
    }

    private void command(int c) {
        switch (c) {
            case CMD_READ_CTR -> reply(ctr);
            case CMD_WRITE_CTR, CMD_WRITE_OUTPUT_PORT -> pendingCommand = c;
            case CMD_SELF_TEST -> {
                status |= STATUS_SYS;
                reply(SELF_TEST_OK);
            }
            case CMD_KBD_TEST, CMD_AUX_TEST -> reply(0x00);
            case CMD_KBD_DISABLE -> ctr |= 0x10;
            case CMD_KBD_ENABLE -> ctr &= ~0x10;
            case CMD_AUX_DISABLE -> ctr |= 0x20;
            case CMD_AUX_ENABLE -> ctr &= ~0x20;
            case CMD_PULSE_RESET -> reset.run();
            default -> {
                // unknown commands are ignored, as a real controller does
            }
        }
    }

    private void reply(int value) {
        output = value;
        status |= STATUS_OBF;
    }

    @Override
    public synchronized byte[] saveState() {
        return ByteBuffer.allocate(4 + 4 * 4).putInt(STATE_VERSION).putInt(status).putInt(ctr).putInt(output)
                .putInt(pendingCommand).array();
    }

    @Override
    public synchronized void restoreState(byte[] state) throws InvalidDeviceStateException {
        try {
            ByteBuffer b = ByteBuffer.wrap(state);
            if (state.length != 20 || b.getInt() != STATE_VERSION) {
                throw new InvalidDeviceStateException("i8042: not a version " + STATE_VERSION + " state of 20 bytes");
            }
            int s = b.getInt();
            int c = b.getInt();
            int o = b.getInt();
            int p = b.getInt();
            if ((s & ~0xff) != 0 || (c & ~0xff) != 0 || o < -1 || o > 0xff
                    || (p != -1 && p != CMD_WRITE_CTR && p != CMD_WRITE_OUTPUT_PORT)) {
                throw new InvalidDeviceStateException("i8042: register values out of range");
            }
            status = s;
            ctr = c;
            output = o;
            pendingCommand = p;
        } catch (BufferUnderflowException e) {
            throw new InvalidDeviceStateException("i8042: state truncated", e);
        }
    }

    @Override
    public void close() {
    }
}
