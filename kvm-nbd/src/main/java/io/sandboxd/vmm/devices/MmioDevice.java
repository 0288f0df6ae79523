package io.sandboxd.vmm.devices;

import java.lang.foreign.MemorySegment;

/**
 * A device on guest-physical addresses no RAM slot covers. Called on a vCPU thread for each access inside
 * {@code [base, base + size)} with the offset from {@code base}; must not block. {@code data} holds the access's
 * 1, 2, 4 or 8 bytes, little endian: a read fills it, a write reads it.
 */
public interface MmioDevice extends Device {
    long mmioBase();

    long mmioSize();

    void read(long offset, MemorySegment data);

    void write(long offset, MemorySegment data);
}
