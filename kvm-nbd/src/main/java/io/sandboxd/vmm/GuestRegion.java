package io.sandboxd.vmm;

import java.lang.foreign.MemorySegment;

/**
 * One piece of guest RAM as a memory backend hands it to the VMM: guest-physical {@code guestPhysAddr} is backed
 * by the host mapping {@code host}, which holds the memory image's bytes from {@code imageOffset} on (image
 * offsets are contiguous; guest-physical addresses may skip the 32-bit MMIO hole). {@code kvmDirtyLog} asks KVM
 * to log the guest's writes to it, for diff snapshots.
 */
public record GuestRegion(long guestPhysAddr, MemorySegment host, long imageOffset, boolean kvmDirtyLog) {
}
