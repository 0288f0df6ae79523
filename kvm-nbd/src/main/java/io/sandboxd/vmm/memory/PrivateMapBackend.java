package io.sandboxd.vmm.memory;

import io.sandboxd.ffi.Libc;
import io.sandboxd.layer.Extent;
import io.sandboxd.layer.LayerHeader;
import io.sandboxd.vmm.snapshot.MemoryImage;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code private-map}: {@code mmap(MAP_PRIVATE)} of the base layer's data file (which is laid out like guest
 * memory), then, for a layered image, each range that differs from the base mapped over it with {@code MAP_FIXED}:
 * a diff layer's range from its file, a range that became zero from anonymous memory. Reads are served by the
 * kernel page cache (shared between every sandbox of a template); writes are copied on write.
 *
 * <p>Each override costs a VMA (the kernel allows {@code vm.max_map_count}, 65530 by default, per process, and
 * this JVM hosts many VMs) and a little restore time. A chain fragmented beyond
 * {@link MemoryOptions#maxPrivateMappings()} overrides is therefore restored eagerly instead (copied into fresh
 * memory); that memory then behaves like {@code eager} and reports {@link MemoryBackends#EAGER}. Compacting such a
 * chain into a new base is the cure, not more mappings.
 *
 * <p>Write tracking: a page the guest (or KVM on its behalf) wrote is an anonymous, exclusively mapped copy, while
 * unwritten pages are page-cache pages or the shared zero page; {@code /proc/self/pagemap} tells them apart per
 * mapping, without the process-wide soft-dirty reset, which would disturb every other VM in this JVM.
 */
final class PrivateMapBackend {
    private PrivateMapBackend() {
    }

    static MappedGuestMemory create(MemoryImage image, MemoryOptions options) throws IOException {
        LayerHeader top = image.header();
        LayerHeader base = top.generation() == 1 ? top : image.baseHeader();
        List<Extent> overrides = top == base ? List.of() : overrides(top, base);
        if (overrides.size() > options.maxPrivateMappings()) {
            return EagerBackend.create(image, options);
        }
        long size = image.size();
        int baseFd = Libc.open(image.layerPath(base.layerId()).toString(), Libc.O_RDONLY | Libc.O_CLOEXEC);
        MemorySegment mem;
        try {
            mem = Libc.mmap(MemorySegment.NULL, size, Libc.PROT_READ | Libc.PROT_WRITE,
                    Libc.MAP_PRIVATE | Libc.MAP_NORESERVE, baseFd, 0);
        } finally {
            Libc.close(baseFd); // the mapping holds the file
        }
        Map<Long, Integer> fds = new HashMap<>();
        try {
            for (Extent e : overrides) {
                MemorySegment at = mem.asSlice(e.offset(), e.length());
                if (e.isZero()) {
                    Libc.mmap(at, e.length(), Libc.PROT_READ | Libc.PROT_WRITE,
                            Libc.MAP_PRIVATE | Libc.MAP_ANONYMOUS | Libc.MAP_FIXED | Libc.MAP_NORESERVE, -1, 0);
                } else {
                    Integer fd = fds.get(e.layerId());
                    if (fd == null) {
                        fd = Libc.open(image.layerPath(e.layerId()).toString(), Libc.O_RDONLY | Libc.O_CLOEXEC);
                        fds.put(e.layerId(), fd);
                    }
                    Libc.mmap(at, e.length(), Libc.PROT_READ | Libc.PROT_WRITE,
                            Libc.MAP_PRIVATE | Libc.MAP_FIXED | Libc.MAP_NORESERVE, fd, e.offsetInLayer());
                }
            }
        } catch (RuntimeException e) {
            Libc.munmap(mem);
            throw e;
        } finally {
            fds.values().forEach(Libc::close);
        }
        MappedGuestMemory.WriteTracker tracker = new MappedGuestMemory.WriteTracker() {
            @Override
            public BitSet writtenPages() {
                return Pagemap.privatelyWrittenPages(mem);
            }

            @Override
            public String describe() {
                return "/proc/self/pagemap: anonymous exclusive pages of the private mapping";
            }
        };
        return new MappedGuestMemory(MemoryBackends.PRIVATE_MAP, image, mem, null, tracker, () -> Libc.munmap(mem));
    }

    /** The extents of {@code top} that the base file mapping does not already provide. */
    static List<Extent> overrides(LayerHeader top, LayerHeader base) {
        List<Extent> out = new ArrayList<>();
        List<Extent> baseExtents = base.extents();
        for (Extent e : top.extents()) {
            if (e.layerId() == base.layerId() && e.offsetInLayer() == e.offset()) {
                continue; // the base file at the same offset
            }
            if (e.isZero() && baseIsZero(base, baseExtents, e)) {
                continue; // a hole in the base file reads zero too
            }
            out.add(e);
        }
        return out;
    }

    private static boolean baseIsZero(LayerHeader base, List<Extent> baseExtents, Extent range) {
        for (int i = base.find(range.offset()); i < baseExtents.size(); i++) {
            Extent b = baseExtents.get(i);
            if (b.offset() >= range.end()) {
                return true;
            }
            if (!b.isZero()) {
                return false;
            }
        }
        return true;
    }
}
