package io.sandboxd.vmm.devices.legacy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.sandboxd.vmm.devices.InvalidDeviceStateException;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The UART driven the way Linux's 8250 driver drives it, register by register. */
class Serial16550Test {
    static final int BASE = Serial16550.COM1;
    final AtomicInteger interrupts = new AtomicInteger();
    final ByteArrayOutputStream log = new ByteArrayOutputStream();
    final List<String> lines = new ArrayList<>();
    final Serial16550 uart = new Serial16550(BASE, interrupts::incrementAndGet, log, lines::add);
    final Arena arena = Arena.ofAuto();

    int in(int reg) {
        MemorySegment d = arena.allocate(1);
        uart.in(BASE + reg, d);
        return Byte.toUnsignedInt(d.get(ValueLayout.JAVA_BYTE, 0));
    }

    void out(int reg, int value) {
        MemorySegment d = arena.allocate(1);
        d.set(ValueLayout.JAVA_BYTE, 0, (byte) value);
        uart.out(BASE + reg, d);
    }

    void print(String s) {
        for (byte b : s.getBytes(StandardCharsets.US_ASCII)) {
            out(Serial16550.RBR_THR_DLL, b);
        }
    }

    @Test
    void passesTheAutoconfigProbe() {
        // scratch register test
        out(Serial16550.SCR, 0xa5);
        assertEquals(0xa5, in(Serial16550.SCR));
        out(Serial16550.SCR, 0x5a);
        assertEquals(0x5a, in(Serial16550.SCR));
        // IER test: writes 0, reads 0; writes 0x0f, reads 0x0f
        out(Serial16550.IER_DLM, 0);
        assertEquals(0, in(Serial16550.IER_DLM));
        out(Serial16550.IER_DLM, 0x0f);
        assertEquals(0x0f, in(Serial16550.IER_DLM));
        out(Serial16550.IER_DLM, 0);
        // loopback: MSR mirrors MCR's outputs
        out(Serial16550.MCR, Serial16550.MCR_LOOP | 0x0a); // RTS + OUT2
        assertEquals(Serial16550.MSR_CTS | Serial16550.MSR_DCD, in(Serial16550.MSR) & 0xf0);
        out(Serial16550.MCR, Serial16550.MCR_LOOP | 0x05); // DTR + OUT1
        assertEquals(Serial16550.MSR_DSR | Serial16550.MSR_RI, in(Serial16550.MSR) & 0xf0);
        // loopback carries THR into RBR
        out(Serial16550.RBR_THR_DLL, 'x');
        assertEquals(Serial16550.LSR_DR, in(Serial16550.LSR) & Serial16550.LSR_DR);
        assertEquals('x', in(Serial16550.RBR_THR_DLL));
        out(Serial16550.MCR, Serial16550.MCR_OUT2);
        // FIFO detection: IIR bits 6-7 both set once FCR enables the FIFOs -> a 16550A
        out(Serial16550.IIR_FCR, Serial16550.FCR_ENABLE_FIFO);
        assertEquals(0xc0, in(Serial16550.IIR_FCR) & 0xc0);
        out(Serial16550.IIR_FCR, 0);
        assertEquals(0x00, in(Serial16550.IIR_FCR) & 0xc0);
        assertEquals("", log.toString(StandardCharsets.US_ASCII), "loopback output never reaches the console");
    }

    @Test
    void divisorLatchSitsBehindDlab() {
        out(Serial16550.LCR, Serial16550.LCR_DLAB | 0x03);
        out(Serial16550.RBR_THR_DLL, 0x01);
        out(Serial16550.IER_DLM, 0x00);
        assertEquals(0x01, in(Serial16550.RBR_THR_DLL));
        out(Serial16550.LCR, 0x03);
        assertEquals(0, in(Serial16550.IER_DLM), "IER untouched by the divisor write");
        assertEquals(0x60, in(Serial16550.LSR) & 0x61, "THRE|TEMT, no data");
    }

    @Test
    void raisesAndClearsTheTransmitInterruptAsTheDriverExpects() {
        out(Serial16550.IER_DLM, Serial16550.IER_THRI);
        assertEquals(1, interrupts.get(), "enabling THRI with THR empty raises it");
        assertEquals(Serial16550.IIR_THRI, in(Serial16550.IIR_FCR) & 0x0f);
        assertEquals(Serial16550.IIR_NO_INT, in(Serial16550.IIR_FCR) & 0x0f, "reading IIR cleared it");
        out(Serial16550.RBR_THR_DLL, 'a');
        assertEquals(2, interrupts.get(), "each THR write empties THR again and interrupts");
        out(Serial16550.RBR_THR_DLL, 'b');
        assertEquals(3, interrupts.get());
        out(Serial16550.IER_DLM, 0);
        out(Serial16550.RBR_THR_DLL, 'c');
        assertEquals(3, interrupts.get(), "no interrupt with THRI off");
    }

    @Test
    void deliversInputWithReceiveInterrupts() {
        out(Serial16550.IER_DLM, Serial16550.IER_RDI);
        uart.queueInput("hi".getBytes(StandardCharsets.US_ASCII));
        assertEquals(1, interrupts.get());
        assertEquals(Serial16550.IIR_RDI, in(Serial16550.IIR_FCR) & 0x0f);
        assertEquals('h', in(Serial16550.RBR_THR_DLL));
        assertEquals('i', in(Serial16550.RBR_THR_DLL));
        assertEquals(0, in(Serial16550.LSR) & Serial16550.LSR_DR);
        assertEquals(Serial16550.IIR_NO_INT, in(Serial16550.IIR_FCR) & 0x0f);
    }

    @Test
    void cutsOutputIntoLinesForTheLogAndTheListener() {
        print("Linux version 6.1\r\nsecond");
        assertEquals(List.of("Linux version 6.1"), lines);
        print(" line\n");
        assertEquals(List.of("Linux version 6.1", "second line"), lines);
        assertEquals("Linux version 6.1\nsecond line\n", log.toString(StandardCharsets.US_ASCII));
    }

    @Test
    void aFailingListenerOrLogNeverReachesTheGuest() {
        OutputStream broken = new OutputStream() {
            @Override
            public void write(int b) throws IOException {
                throw new IOException("disk full");
            }
        };
        AtomicInteger calls = new AtomicInteger();
        Serial16550 u = new Serial16550(BASE, () -> { }, broken, l -> {
            calls.incrementAndGet();
            throw new IllegalStateException("listener bug");
        });
        MemorySegment d = arena.allocate(1);
        for (int i = 0; i < 3; i++) {
            d.set(ValueLayout.JAVA_BYTE, 0, (byte) '\n');
            u.out(BASE, d);
        }
        assertEquals(1, calls.get(), "a listener that threw is left out afterwards");
    }

    @Test
    void savesAndRestoresEveryRegisterAndPendingInput() throws Exception {
        out(Serial16550.LCR, 0x83);
        out(Serial16550.RBR_THR_DLL, 0x01);
        out(Serial16550.LCR, 0x03);
        out(Serial16550.IER_DLM, Serial16550.IER_RDI | Serial16550.IER_THRI);
        out(Serial16550.SCR, 0x42);
        out(Serial16550.IIR_FCR, Serial16550.FCR_ENABLE_FIFO);
        uart.queueInput(new byte[] {1, 2, 3});
        print("half a li");
        byte[] state = uart.saveState();

        List<String> restoredLines = new ArrayList<>();
        Serial16550 back = new Serial16550(BASE, () -> { }, new ByteArrayOutputStream(), restoredLines::add);
        back.restoreState(state);
        assertArrayEquals(state, back.saveState());
        MemorySegment d = arena.allocate(1);
        back.in(BASE + Serial16550.SCR, d);
        assertEquals(0x42, d.get(ValueLayout.JAVA_BYTE, 0));
        back.in(BASE, d);
        assertEquals(1, d.get(ValueLayout.JAVA_BYTE, 0), "pending input survives");
        for (byte b : "ne\n".getBytes(StandardCharsets.US_ASCII)) {
            d.set(ValueLayout.JAVA_BYTE, 0, b);
            back.out(BASE, d);
        }
        assertEquals(List.of("half a line"), restoredLines, "a partial line survives too");
    }

    @Test
    void refusesBadStates() {
        byte[] good = uart.saveState();
        for (int len = 0; len < good.length; len++) {
            byte[] cut = Arrays.copyOf(good, len);
            assertThrows(InvalidDeviceStateException.class, () -> uart.restoreState(cut), "length " + len);
        }
        byte[] badVersion = good.clone();
        badVersion[3] = 9;
        assertThrows(InvalidDeviceStateException.class, () -> uart.restoreState(badVersion));
        byte[] badIer = good.clone();
        badIer[6] = (byte) 0xf0;
        assertThrows(InvalidDeviceStateException.class, () -> uart.restoreState(badIer));
        byte[] hugeInput = good.clone();
        java.nio.ByteBuffer.wrap(hugeInput).putInt(12, Integer.MAX_VALUE);
        assertThrows(InvalidDeviceStateException.class, () -> uart.restoreState(hugeInput));
    }
}
