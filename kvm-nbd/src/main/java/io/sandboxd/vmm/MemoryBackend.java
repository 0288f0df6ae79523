package io.sandboxd.vmm;

import io.sandboxd.vmm.snapshot.MemoryImage;
import java.io.IOException;
import java.util.function.Consumer;

/**
 * How a restore gets guest memory from a snapshot's memory image: copy it all ({@code eager}), map the file
 * copy-on-write ({@code private-map}) or serve pages on first touch ({@code uffd}). Implementations live in
 * {@code io.sandboxd.vmm.memory}; the VMM only needs the regions they produce.
 */
@FunctionalInterface
public interface MemoryBackend {
    /**
     * Makes guest memory holding {@code image}'s bytes. {@code onFailure} is called (once, on any thread) if the
     * memory later fails, e.g. its page source cannot read a page: the VMM then fails and stops that VM only.
     */
    GuestMemory open(MemoryImage image, Consumer<RuntimeException> onFailure) throws IOException;
}
