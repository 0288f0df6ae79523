package io.sandboxd.vmm.devices;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sandboxd.vmm.devices.legacy.I8042;
import io.sandboxd.vmm.kvm.ExitHandler.Action;
import io.sandboxd.vmm.kvm.VcpuExit;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Exit dispatch, without KVM: exits are made by hand, as a vCPU loop would hand them over. */
class DeviceBusTest {
    final Arena arena = Arena.ofAuto();

    /** A port device that records accesses and answers reads with its port's low byte. */
    static final class Recorder implements PortDevice {
        final int base;
        final int count;
        final List<String> seen = new ArrayList<>();

        Recorder(int base, int count) {
            this.base = base;
            this.count = count;
        }

        public String name() {
            return "recorder@" + base;
        }

        public int basePort() {
            return base;
        }

        public int portCount() {
            return count;
        }

        public void in(int port, MemorySegment data) {
            seen.add("in " + port + "/" + data.byteSize());
            data.fill((byte) port);
        }

        public void out(int port, MemorySegment data) {
            seen.add("out " + port + "=" + data.get(ValueLayout.JAVA_BYTE, 0));
        }

        public byte[] saveState() {
            return new byte[0];
        }

        public void restoreState(byte[] s) {
        }

        public void close() {
        }
    }

    static final class Mmio implements MmioDevice {
        long lastWriteOffset = -1;

        public String name() {
            return "mmio";
        }

        public long mmioBase() {
            return 0xd000_0000L;
        }

        public long mmioSize() {
            return 0x1000;
        }

        public void read(long offset, MemorySegment data) {
            data.set(ValueLayout.JAVA_INT_UNALIGNED, 0, (int) offset + 7);
        }

        public void write(long offset, MemorySegment data) {
            if (offset == 0x66) {
                throw new IllegalStateException("device bug");
            }
            lastWriteOffset = offset;
        }

        public byte[] saveState() {
            return new byte[0];
        }

        public void restoreState(byte[] s) {
        }

        public void close() {
        }
    }

    VcpuExit.PortIo port(boolean in, int port, int size, int count, byte fill) {
        MemorySegment data = arena.allocate((long) size * count);
        data.fill(fill);
        return new VcpuExit.PortIo(in, port, size, count, data);
    }

    @Test
    void dispatchesPortsByRangeAndSplitsStringIo() {
        DeviceBus bus = new DeviceBus();
        Recorder r = new Recorder(0x3f8, 8);
        bus.add(r);
        VcpuExit.PortIo read = port(true, 0x3fd, 1, 1, (byte) 0);
        assertEquals(Action.CONTINUE, bus.onExit(null, read));
        assertEquals((byte) 0xfd, read.data().get(ValueLayout.JAVA_BYTE, 0));
        VcpuExit.PortIo rep = port(false, 0x3f8, 1, 3, (byte) 9);
        bus.onExit(null, rep);
        assertEquals(List.of("in 1021/1", "out 1016=9", "out 1016=9", "out 1016=9"), r.seen);
    }

    @Test
    void unknownPortsReadAllOnesAndUnknownMmioReadsZero() {
        DeviceBus bus = new DeviceBus();
        VcpuExit.PortIo read = port(true, 0x80, 2, 1, (byte) 0);
        assertEquals(Action.CONTINUE, bus.onExit(null, read));
        assertEquals((short) 0xffff, read.data().get(ValueLayout.JAVA_SHORT_UNALIGNED, 0));
        bus.onExit(null, port(false, 0x80, 1, 1, (byte) 1));
        MemorySegment m = arena.allocate(8);
        m.fill((byte) 0x55);
        bus.onExit(null, new VcpuExit.Mmio(0xfee0_0000L, 4, false, m));
        assertEquals(0, m.get(ValueLayout.JAVA_INT_UNALIGNED, 0));
        assertEquals(3, bus.unknownAccesses());
        assertTrue(bus.stopReason().isEmpty());
    }

    @Test
    void refusesOverlaps() {
        DeviceBus bus = new DeviceBus();
        bus.add(new Recorder(0x60, 5));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> bus.add(new Recorder(0x64, 2)));
        assertTrue(e.getMessage().contains("overlaps recorder@96"), e.getMessage());
        bus.add(new Mmio());
        assertThrows(IllegalArgumentException.class, () -> bus.add(new Mmio()));
        assertThrows(IllegalArgumentException.class, () -> bus.add(new Recorder(0xfffe, 4)));
        assertEquals(2, bus.devices().size());
    }

    @Test
    void dispatchesMmioWithTheOffset() {
        DeviceBus bus = new DeviceBus();
        Mmio d = new Mmio();
        bus.add(d);
        MemorySegment data = arena.allocate(8);
        bus.onExit(null, new VcpuExit.Mmio(0xd000_0070L, 4, false, data));
        assertEquals(0x77, data.get(ValueLayout.JAVA_INT_UNALIGNED, 0));
        bus.onExit(null, new VcpuExit.Mmio(0xd000_0050L, 4, true, data));
        assertEquals(0x50, d.lastWriteOffset);
    }

    @Test
    void aFailingDeviceStopsOnlyItsMachineWithItsNameInTheReason() {
        DeviceBus bus = new DeviceBus();
        bus.add(new Mmio());
        DeviceBus other = new DeviceBus();
        other.add(new Recorder(0x3f8, 8));
        MemorySegment data = arena.allocate(8);
        assertEquals(Action.STOP, bus.onExit(null, new VcpuExit.Mmio(0xd000_0066L, 4, true, data)));
        assertTrue(bus.stopReason().orElseThrow().contains("mmio failed"), bus.stopReason().toString());
        assertEquals(Action.STOP, bus.onExit(null, port(true, 0x3f8, 1, 1, (byte) 0)), "every later exit stops");
        assertEquals(Action.CONTINUE, other.onExit(null, port(true, 0x3f8, 1, 1, (byte) 0)), "another machine goes on");
    }

    @Test
    void anI8042ResetStopsTheMachine() {
        DeviceBus bus = new DeviceBus();
        List<String> stops = new ArrayList<>();
        bus.onStop(() -> stops.add("stopped"));
        bus.add(new I8042(() -> bus.requestStop("guest requested reset")));
        assertEquals(Action.STOP, bus.onExit(null, port(false, 0x64, 1, 1, (byte) 0xfe)));
        assertEquals("guest requested reset", bus.stopReason().orElseThrow());
        assertEquals(List.of("stopped"), stops);
    }

    @Test
    void shutdownAndSystemEventsEndTheRun() {
        DeviceBus bus = new DeviceBus();
        assertEquals(Action.STOP, bus.onExit(null, new VcpuExit.SystemEvent(2)));
        assertTrue(bus.stopReason().orElseThrow().contains("reset"));
    }
}
