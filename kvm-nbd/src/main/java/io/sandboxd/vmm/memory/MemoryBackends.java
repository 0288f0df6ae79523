package io.sandboxd.vmm.memory;

import io.sandboxd.vmm.MemoryBackend;
import io.sandboxd.vmm.snapshot.MemoryImage;
import java.io.IOException;
import java.util.function.Consumer;

/**
 * How a restore turns a {@link MemoryImage} into guest memory; chosen per restore.
 *
 * <ul>
 *   <li>{@code eager}: copy the whole image into fresh anonymous memory. The baseline: slow to create, no faults
 *       afterwards, no page cache sharing.</li>
 *   <li>{@code private-map}: {@code mmap(MAP_PRIVATE)} of the image's layer files: the kernel page cache serves
 *       reads (shared by every sandbox of a template), writes are copied on write.</li>
 *   <li>{@code uffd}: anonymous memory registered with userfaultfd; a page server copies each page from the image
 *       on first touch, after prefetching the template's recorded working set.</li>
 * </ul>
 */
public enum MemoryBackends implements MemoryBackend {
    EAGER("eager"),
    PRIVATE_MAP("private-map"),
    UFFD("uffd");

    private final String id;

    MemoryBackends(String id) {
        this.id = id;
    }

    /** The name used in configuration and benchmarks ({@code "private-map"}). */
    public String id() {
        return id;
    }

    public static MemoryBackends of(String id) {
        for (MemoryBackends b : values()) {
            if (b.id.equals(id)) {
                return b;
            }
        }
        throw new IllegalArgumentException("unknown memory backend '" + id + "' (expected eager, private-map or uffd)");
    }

    /** Creates guest memory holding {@code image}'s bytes; the caller owns it and must close it. */
    public MappedGuestMemory create(MemoryImage image, MemoryOptions options) throws IOException {
        return switch (this) {
            case EAGER -> EagerBackend.create(image, options);
            case PRIVATE_MAP -> PrivateMapBackend.create(image, options);
            case UFFD -> UffdBackend.create(image, options);
        };
    }

    public MappedGuestMemory create(MemoryImage image) throws IOException {
        return create(image, MemoryOptions.DEFAULT);
    }

    /** The VMM's entry point: default options, failures reported to the VM through {@code onFailure}. */
    @Override
    public MappedGuestMemory open(MemoryImage image, Consumer<RuntimeException> onFailure) throws IOException {
        return create(image, MemoryOptions.DEFAULT.withOnFailure(onFailure::accept));
    }
}
