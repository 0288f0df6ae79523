package io.sandboxd.vmm.memory;

import java.util.Objects;
import java.util.function.Consumer;

/**
 * Per-restore choices for a {@link MemoryBackends}.
 *
 * @param prefetchWorkingSet  uffd: copy the image's recorded working set in before returning (before the guest runs)
 * @param trackWrites         uffd: track written pages with userfaultfd write-protect (when the kernel offers it)
 * @param startPageServer     uffd: run the page server on its own platform thread; false lets a test step it by hand
 * @param maxPrivateMappings  private-map: at most this many extra {@code MAP_FIXED} mappings for diff layers before
 *                            the restore falls back to eager (each costs a VMA; the kernel caps them per process)
 * @param onFailure           called once, on the page server's thread, when the memory fails (its page source gave
 *                            an I/O error): the VM owning it must stop its vCPUs and be marked failed
 */
public record MemoryOptions(boolean prefetchWorkingSet, boolean trackWrites, boolean startPageServer,
                            int maxPrivateMappings, Consumer<MemoryFailedException> onFailure) {
    public static final int MAX_PRIVATE_MAPPINGS_DEFAULT = 1024;
    public static final MemoryOptions DEFAULT =
            new MemoryOptions(true, true, true, MAX_PRIVATE_MAPPINGS_DEFAULT, failure -> { });

    public MemoryOptions {
        Objects.requireNonNull(onFailure, "onFailure");
        if (maxPrivateMappings < 0) {
            throw new IllegalArgumentException("maxPrivateMappings " + maxPrivateMappings + " < 0");
        }
    }

    public MemoryOptions withPrefetch(boolean on) {
        return new MemoryOptions(on, trackWrites, startPageServer, maxPrivateMappings, onFailure);
    }

    public MemoryOptions withTrackWrites(boolean on) {
        return new MemoryOptions(prefetchWorkingSet, on, startPageServer, maxPrivateMappings, onFailure);
    }

    public MemoryOptions withPageServerThread(boolean on) {
        return new MemoryOptions(prefetchWorkingSet, trackWrites, on, maxPrivateMappings, onFailure);
    }

    public MemoryOptions withMaxPrivateMappings(int n) {
        return new MemoryOptions(prefetchWorkingSet, trackWrites, startPageServer, n, onFailure);
    }

    public MemoryOptions withOnFailure(Consumer<MemoryFailedException> listener) {
        return new MemoryOptions(prefetchWorkingSet, trackWrites, startPageServer, maxPrivateMappings, listener);
    }
}
