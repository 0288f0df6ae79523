package io.sandboxd.vmm.devices;

import java.lang.foreign.MemorySegment;

/**
 * A device on the x86 I/O port space. Called on a vCPU thread for each access to a port in its range; must not
 * block. {@code data} is the exit's data ({@code size} bytes, 1, 2 or 4): an {@code in} fills it, an {@code out}
 * reads it. String I/O is split into single accesses by the bus.
 */
public interface PortDevice extends Device {
    int basePort();

    int portCount();

    void in(int port, MemorySegment data);

    void out(int port, MemorySegment data);
}
