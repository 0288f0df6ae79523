package io.sandboxd.vmm.memory;

import io.sandboxd.ffi.Libc;
import io.sandboxd.vmm.GuestMemory;
import io.sandboxd.vmm.GuestRegion;
import io.sandboxd.vmm.snapshot.LayerWriter;
import io.sandboxd.vmm.snapshot.MemoryImage;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.BitSet;
import java.util.List;

/**
 * Fresh zeroed guest memory for a machine that boots (a template's first run): one anonymous private mapping,
 * reserved lazily ({@code MAP_NORESERVE}: a 1 GiB guest that touched 40 MiB costs 40 MiB), laid out around the
 * MMIO hole by {@link GuestLayout}, with KVM dirty logging so its later snapshots can be diffs.
 */
public final class AnonymousGuestMemory implements GuestMemory {
    private final MemorySegment host;
    private final List<GuestRegion> regions;
    private boolean closed;

    public AnonymousGuestMemory(long size) {
        if (size <= 0 || size % io.sandboxd.vmm.kvm.MemorySlot.PAGE_SIZE != 0) {
            throw new IllegalArgumentException("guest memory must be a positive multiple of 4 KiB, got " + size);
        }
        host = Libc.mmap(MemorySegment.NULL, size, Libc.PROT_READ | Libc.PROT_WRITE,
                Libc.MAP_PRIVATE | Libc.MAP_ANONYMOUS | Libc.MAP_NORESERVE, -1, 0);
        regions = GuestLayout.regions(host, true);
    }

    @Override
    public List<GuestRegion> regions() {
        return regions;
    }

    @Override
    public MemorySegment host() {
        return host;
    }

    @Override
    public MemoryImage snapshot(MemoryImage parent, BitSet kvmDirty) throws IOException {
        return LayerWriter.writeDiff(parent, host, kvmDirty);
    }

    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            Libc.munmap(host);
        }
    }

    @Override
    public String toString() {
        return "AnonymousGuestMemory[" + (host.byteSize() >> 20) + " MiB]";
    }
}
