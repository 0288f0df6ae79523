package io.sandboxd.vmm.memory;

import io.sandboxd.vmm.GuestRegion;
import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * Where guest memory appears in the guest-physical address space on x86-64: the first 3 GiB at 0, the rest above
 * 4 GiB, leaving the 32-bit MMIO hole (LAPIC, IOAPIC, virtio-mmio) free. Memory image offsets are contiguous; only
 * guest-physical addresses skip the hole.
 */
public final class GuestLayout {
    public static final long MMIO_HOLE_START = 3L << 30;
    public static final long HIGH_MEMORY_START = 4L << 30;

    private GuestLayout() {
    }

    /** The regions of {@code host}; {@code kvmDirtyLog} when the backend cannot see the VM's writes itself. */
    public static List<GuestRegion> regions(MemorySegment host, boolean kvmDirtyLog) {
        long size = host.byteSize();
        if (size <= MMIO_HOLE_START) {
            return List.of(new GuestRegion(0, host, 0, kvmDirtyLog));
        }
        return List.of(new GuestRegion(0, host.asSlice(0, MMIO_HOLE_START), 0, kvmDirtyLog),
                new GuestRegion(HIGH_MEMORY_START, host.asSlice(MMIO_HOLE_START), MMIO_HOLE_START, kvmDirtyLog));
    }
}
