package io.sandboxd.vmm;

import java.lang.foreign.MemorySegment;

/**
 * One piece of guest RAM as a memory backend hands it to the VMM: guest-physical {@code guestPhysAddr} is backed
 * by the host mapping {@code host}; {@code kvmDirtyLog} asks KVM to log writes (backends that track writes
 * themselves, like uffd write-protect, can say no). The memory image offset of a region is its guest-physical
 * address (a microVM's RAM starts at 0).
 */
public record GuestRegion(long guestPhysAddr, MemorySegment host, boolean kvmDirtyLog) {
}
