package io.sandboxd.vmm;

import java.util.BitSet;
import java.util.List;

/**
 * Guest RAM made by a {@link MemoryBackend} for one VM. It owns its mappings (and page server, if any) and
 * releases them in {@link #close()}, which the VMM calls after the VM's fd is closed (so KVM no longer maps them).
 */
public interface GuestMemory extends AutoCloseable {
    /** The regions to register as KVM memory slots. */
    List<GuestRegion> regions();

    /**
     * Pages (bit i = the 4 KiB page at image offset i * 4096) written since restore that KVM's dirty log does not
     * see: written by the backend's own tracking (uffd), or by the host into guest memory. Empty by default.
     */
    default BitSet trackedDirtyPages() {
        return new BitSet();
    }

    @Override
    void close();
}
