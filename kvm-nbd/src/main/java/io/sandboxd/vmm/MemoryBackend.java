package io.sandboxd.vmm;

import io.sandboxd.vmm.snapshot.MemoryImage;
import java.io.IOException;

/**
 * How a restore gets guest memory from a snapshot's memory image: copy it all ({@code eager}), map the file
 * copy-on-write ({@code private-map}) or serve pages on first touch ({@code uffd}). Implementations live in
 * {@code io.sandboxd.vmm.memory}; the VMM only needs the regions they produce.
 */
@FunctionalInterface
public interface MemoryBackend {
    GuestMemory open(MemoryImage image) throws IOException;
}
