package io.sandboxd.vmm.devices;

import io.sandboxd.vmm.GuestRegion;
import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * Guest-physical memory as devices see it: a guest address range turned into a host segment, checked. Every address
 * a device gets from a guest (a descriptor, a ring) goes through {@link #slice}, so a guest can make a device read or
 * write only its own RAM, never past it and never across the MMIO hole.
 */
public final class GuestRam {
    private final long[] starts;
    private final MemorySegment[] hosts;

    public GuestRam(List<GuestRegion> regions) {
        starts = new long[regions.size()];
        hosts = new MemorySegment[regions.size()];
        for (int i = 0; i < regions.size(); i++) {
            starts[i] = regions.get(i).guestPhysAddr();
            hosts[i] = regions.get(i).host();
        }
    }

    /** {@code length} bytes at guest-physical {@code gpa}; refused unless they lie inside one region of RAM. */
    public MemorySegment slice(long gpa, long length) {
        if (length < 0) {
            throw new GuestMemoryException("negative length " + length + " at guest-physical 0x" + Long.toHexString(gpa));
        }
        for (int i = 0; i < starts.length; i++) {
            long offset = gpa - starts[i];
            long size = hosts[i].byteSize();
            // unsigned compare: gpa below the region gives a huge offset
            if (Long.compareUnsigned(offset, size) < 0 && length <= size - offset) {
                return hosts[i].asSlice(offset, length);
            }
        }
        throw new GuestMemoryException("guest-physical 0x" + Long.toHexString(gpa) + " + " + length
                + " is not inside guest RAM");
    }

    /** Whether {@link #slice} would accept the range. */
    public boolean contains(long gpa, long length) {
        try {
            slice(gpa, length);
            return true;
        } catch (GuestMemoryException e) {
            return false;
        }
    }
}
