package io.sandboxd.vmm.kvm;

import java.lang.foreign.MemorySegment;

/**
 * One KVM memory slot: guest-physical {@code [guestPhysAddr, guestPhysAddr + host.byteSize())} backed by the host
 * mapping {@code host}. The mapping belongs to whoever made it (a memory backend); the VM only lends it to KVM and
 * must be closed (or the slot removed) before the mapping goes away.
 */
public record MemorySlot(int slot, long guestPhysAddr, MemorySegment host, boolean dirtyLog) {
    public static final long PAGE_SIZE = 4096;

    public MemorySlot {
        if (guestPhysAddr % PAGE_SIZE != 0 || host.byteSize() % PAGE_SIZE != 0 || host.address() % PAGE_SIZE != 0) {
            throw new IllegalArgumentException("memory slot " + slot + " must be page aligned: gpa 0x"
                    + Long.toHexString(guestPhysAddr) + ", host 0x" + Long.toHexString(host.address()) + ", size "
                    + host.byteSize());
        }
        if (host.byteSize() == 0) {
            throw new IllegalArgumentException("memory slot " + slot + " is empty");
        }
    }

    public long size() {
        return host.byteSize();
    }

    public long pages() {
        return size() / PAGE_SIZE;
    }

    boolean overlaps(long gpa, long size) {
        return gpa < guestPhysAddr + size() && guestPhysAddr < gpa + size;
    }
}
