package io.sandboxd.vmm.devices.legacy;

import io.sandboxd.vmm.devices.InterruptLine;
import io.sandboxd.vmm.devices.InvalidDeviceStateException;
import io.sandboxd.vmm.devices.PortDevice;
import java.io.IOException;
import java.io.OutputStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.function.Consumer;

/**
 * A 16550A UART as Linux's 8250 driver probes and drives it: divisor latch, FIFOs reported enabled (so the driver
 * finds a 16550A), loopback (its autoconfig test), and the transmit-empty and receive interrupts on one line.
 *
 * <p>Output is instant (THR is always empty again after a write), so the line status always says THRE|TEMT. The
 * guest's bytes are cut into lines: each line goes to the console sink (the VM's log file) and to a listener;
 * a sink that fails or a listener that throws is reported once and then left out, never to the guest.
 */
public final class Serial16550 implements PortDevice {
    public static final int COM1 = 0x3f8;
    static final int RBR_THR_DLL = 0;
    static final int IER_DLM = 1;
    static final int IIR_FCR = 2;
    static final int LCR = 3;
    static final int MCR = 4;
    static final int LSR = 5;
    static final int MSR = 6;
    static final int SCR = 7;

    static final int IER_RDI = 0x01;
    static final int IER_THRI = 0x02;
    static final int IER_MASK = 0x0f;
    static final int IIR_NO_INT = 0x01;
    static final int IIR_THRI = 0x02;
    static final int IIR_RDI = 0x04;
    static final int IIR_FIFO_ENABLED = 0xc0;
    static final int FCR_ENABLE_FIFO = 0x01;
    static final int FCR_CLEAR_RCVR = 0x02;
    static final int LCR_DLAB = 0x80;
    static final int MCR_DTR = 0x01;
    static final int MCR_RTS = 0x02;
    static final int MCR_OUT1 = 0x04;
    static final int MCR_OUT2 = 0x08;
    static final int MCR_LOOP = 0x10;
    static final int MCR_MASK = 0x1f;
    static final int LSR_DR = 0x01;
    static final int LSR_THRE = 0x20;
    static final int LSR_TEMT = 0x40;
    static final int MSR_CTS = 0x10;
    static final int MSR_DSR = 0x20;
    static final int MSR_RI = 0x40;
    static final int MSR_DCD = 0x80;
    /** Input kept for the guest to read; more is dropped (a console, not a file transfer). */
    static final int MAX_INPUT = 64 * 1024;
    static final int MAX_LINE = 4096;
    static final int STATE_VERSION = 1;

    private final int base;
    private final InterruptLine irq;
    private final OutputStream console;
    private final Consumer<String> lines;
    private final StringBuilder line = new StringBuilder();
    private final ArrayDeque<Byte> input = new ArrayDeque<>();
    private int dll = 0x0c; // 9600 baud until the guest sets its own
    private int dlm;
    private int ier;
    private int lcr;
    private int mcr = MCR_OUT2;
    private int scr;
    private boolean fifo;
    private boolean threPending;
    private boolean consoleFailed;
    private boolean listenerFailed;

    public Serial16550(int base, InterruptLine irq, OutputStream console, Consumer<String> lines) {
        this.base = base;
        this.irq = irq;
        this.console = console;
        this.lines = lines == null ? l -> { } : lines;
    }

    @Override
    public String name() {
        return "serial@0x" + Integer.toHexString(base);
    }

    @Override
    public int basePort() {
        return base;
    }

    @Override
    public int portCount() {
        return 8;
    }

    @Override
    public synchronized void in(int port, MemorySegment data) {
        int value = switch (port - base) {
            case RBR_THR_DLL -> (lcr & LCR_DLAB) != 0 ? dll : readRbr();
            case IER_DLM -> (lcr & LCR_DLAB) != 0 ? dlm : ier;
            case IIR_FCR -> readIir();
            case LCR -> lcr;
            case MCR -> mcr;
            case LSR -> LSR_THRE | LSR_TEMT | (input.isEmpty() ? 0 : LSR_DR);
            case MSR -> msr();
            case SCR -> scr;
            default -> 0xff;
        };
        data.set(ValueLayout.JAVA_BYTE, 0, (byte) value);
        for (long i = 1; i < data.byteSize(); i++) { // a wider access than the 8-bit register: the rest floats high
            data.set(ValueLayout.JAVA_BYTE, i, (byte) 0xff);
        }
    }

    @Override
    public synchronized void out(int port, MemorySegment data) {
        int value = Byte.toUnsignedInt(data.get(ValueLayout.JAVA_BYTE, 0));
        switch (port - base) {
            case RBR_THR_DLL -> {
                if ((lcr & LCR_DLAB) != 0) {
                    dll = value;
                } else {
                    writeThr((byte) value);
                }
            }
            case IER_DLM -> {
                if ((lcr & LCR_DLAB) != 0) {
                    dlm = value;
                } else {
                    int before = ier;
                    ier = value & IER_MASK;
                    // Enabling the transmit interrupt while THR is empty (it always is) raises it at once: the 8250
                    // driver's start_tx relies on this.
                    if ((ier & IER_THRI) != 0 && (before & IER_THRI) == 0) {
                        threPending = true;
                    }
                    updateInterrupt();
                }
            }
            case IIR_FCR -> {
                fifo = (value & FCR_ENABLE_FIFO) != 0;
                if ((value & FCR_CLEAR_RCVR) != 0) {
                    input.clear();
                }
            }
            case LCR -> lcr = value;
            case MCR -> mcr = value & MCR_MASK;
            case SCR -> scr = value;
            default -> {
                // LSR and MSR are read-only
            }
        }
    }

    /** Bytes for the guest to read (a console's keyboard); beyond {@link #MAX_INPUT} waiting, the rest is dropped. */
    public synchronized void queueInput(byte[] bytes) {
        boolean wasEmpty = input.isEmpty();
        for (byte b : bytes) {
            if (input.size() >= MAX_INPUT) {
                break;
            }
            input.add(b);
        }
        if (wasEmpty && !input.isEmpty()) {
            updateInterrupt();
        }
    }

    private int readRbr() {
        Byte b = input.poll();
        return b == null ? 0 : Byte.toUnsignedInt(b);
    }

    private int readIir() {
        int fifoBits = fifo ? IIR_FIFO_ENABLED : 0;
        if ((ier & IER_RDI) != 0 && !input.isEmpty()) {
            return fifoBits | IIR_RDI;
        }
        if ((ier & IER_THRI) != 0 && threPending) {
            threPending = false; // reading IIR while it names THRE clears that interrupt
            return fifoBits | IIR_THRI;
        }
        return fifoBits | IIR_NO_INT;
    }

    private int msr() {
        if ((mcr & MCR_LOOP) != 0) {
            int m = 0;
            m |= (mcr & MCR_RTS) != 0 ? MSR_CTS : 0;
            m |= (mcr & MCR_DTR) != 0 ? MSR_DSR : 0;
            m |= (mcr & MCR_OUT1) != 0 ? MSR_RI : 0;
            m |= (mcr & MCR_OUT2) != 0 ? MSR_DCD : 0;
            return m;
        }
        return MSR_DCD | MSR_DSR | MSR_CTS;
    }

    private void writeThr(byte b) {
        if ((mcr & MCR_LOOP) != 0) {
            if (input.size() < MAX_INPUT) {
                input.add(b);
            }
        } else {
            emit(b);
        }
        threPending = true;
        updateInterrupt();
    }

    private void updateInterrupt() {
        boolean pending = ((ier & IER_THRI) != 0 && threPending) || ((ier & IER_RDI) != 0 && !input.isEmpty());
        if (pending) {
            irq.trigger();
        }
    }

    private void emit(byte b) {
        if (b == '\n') {
            flushLine();
        } else if (b != '\r') {
            line.append((char) (b & 0xff));
            if (line.length() >= MAX_LINE) {
                flushLine();
            }
        }
    }

    private void flushLine() {
        String text = line.toString();
        line.setLength(0);
        if (!consoleFailed && console != null) {
            try {
                console.write((text + "\n").getBytes(java.nio.charset.StandardCharsets.ISO_8859_1));
                console.flush();
            } catch (IOException | RuntimeException e) {
                consoleFailed = true;
                System.getLogger(Serial16550.class.getName()).log(System.Logger.Level.WARNING,
                        name() + ": the console log failed; guest output goes on without it: " + e);
            }
        }
        if (!listenerFailed) {
            try {
                lines.accept(text);
            } catch (RuntimeException e) {
                listenerFailed = true;
                System.getLogger(Serial16550.class.getName()).log(System.Logger.Level.WARNING,
                        name() + ": the console listener threw; it gets no more lines: " + e);
            }
        }
    }

    @Override
    public synchronized byte[] saveState() {
        byte[] rx = new byte[input.size()];
        int i = 0;
        for (byte b : input) {
            rx[i++] = b;
        }
        byte[] partial = line.toString().getBytes(java.nio.charset.StandardCharsets.ISO_8859_1);
        ByteBuffer b = ByteBuffer.allocate(4 + 8 + 4 + rx.length + 4 + partial.length);
        b.putInt(STATE_VERSION).put((byte) dll).put((byte) dlm).put((byte) ier).put((byte) lcr).put((byte) mcr)
                .put((byte) scr).put((byte) (fifo ? 1 : 0)).put((byte) (threPending ? 1 : 0));
        b.putInt(rx.length).put(rx).putInt(partial.length).put(partial);
        return b.array();
    }

    @Override
    public synchronized void restoreState(byte[] state) throws InvalidDeviceStateException {
        try {
            ByteBuffer b = ByteBuffer.wrap(state);
            int version = b.getInt();
            if (version != STATE_VERSION) {
                throw new InvalidDeviceStateException(name() + ": state version " + version + ", expected "
                        + STATE_VERSION);
            }
            int[] regs = new int[8];
            for (int i = 0; i < 8; i++) {
                regs[i] = Byte.toUnsignedInt(b.get());
            }
            if ((regs[2] & ~IER_MASK) != 0 || (regs[4] & ~MCR_MASK) != 0 || regs[6] > 1 || regs[7] > 1) {
                throw new InvalidDeviceStateException(name() + ": register values out of range");
            }
            int rxLength = b.getInt();
            if (rxLength < 0 || rxLength > MAX_INPUT || rxLength > b.remaining()) {
                throw new InvalidDeviceStateException(name() + ": " + rxLength + " bytes of pending input");
            }
            byte[] rx = new byte[rxLength];
            b.get(rx);
            int partialLength = b.getInt();
            if (partialLength < 0 || partialLength >= MAX_LINE || partialLength != b.remaining()) {
                throw new InvalidDeviceStateException(name() + ": a partial line of " + partialLength + " bytes");
            }
            byte[] partial = new byte[partialLength];
            b.get(partial);
            dll = regs[0];
            dlm = regs[1];
            ier = regs[2];
            lcr = regs[3];
            mcr = regs[4];
            scr = regs[5];
            fifo = regs[6] == 1;
            threPending = regs[7] == 1;
            input.clear();
            for (byte x : rx) {
                input.add(x);
            }
            line.setLength(0);
            line.append(new String(partial, java.nio.charset.StandardCharsets.ISO_8859_1));
        } catch (BufferUnderflowException e) {
            throw new InvalidDeviceStateException(name() + ": state truncated", e);
        }
    }

    /** Re-raises an interrupt the saved state had pending (after a restore, once the irqchip is wired). */
    @Override
    public synchronized void activate() {
        updateInterrupt();
    }

    @Override
    public synchronized void close() {
        if (line.length() > 0) {
            flushLine();
        }
    }
}
