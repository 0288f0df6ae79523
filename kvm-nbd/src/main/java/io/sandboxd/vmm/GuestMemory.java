package io.sandboxd.vmm;

import io.sandboxd.vmm.snapshot.MemoryImage;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.BitSet;
import java.util.List;

/**
 * Guest RAM made by a {@link MemoryBackend} for one VM, as the VMM needs it: the regions to register as KVM
 * memory slots, the whole host mapping, and a way to write what changed as a new layer. It owns its mappings
 * (and page server, if any) and releases them in {@link #close()}, which the VMM calls after the VM's fd is closed
 * (so KVM no longer maps them).
 */
public interface GuestMemory extends AutoCloseable {
    /** The regions to register as KVM memory slots. */
    List<GuestRegion> regions();

    /** All of the memory, image offset 0 at the start (what a base snapshot writes). */
    MemorySegment host();

    /**
     * Writes the pages written since {@code parent} was current as a new layer over it: those in {@code kvmDirty}
     * (the VM's KVM dirty log, bit i = image page i) plus any the backend tracked itself (more is harmless, fewer is
     * not). The VMM passes the parent because it knows it: the image this memory came from, or the layer its last
     * snapshot wrote. Called with the vCPUs stopped.
     */
    MemoryImage snapshot(MemoryImage parent, BitSet kvmDirty) throws IOException;

    @Override
    void close();
}
