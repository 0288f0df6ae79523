package io.sandboxd.vmm.memory;

import io.sandboxd.ffi.Libc;
import io.sandboxd.layer.Extent;
import io.sandboxd.vmm.snapshot.MemoryImage;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.HashMap;
import java.util.Map;

/**
 * {@code eager}: fresh anonymous memory with every data extent read in with pread before the guest runs; zero
 * extents are left as untouched anonymous memory. It has no host-side write tracking: its VM snapshots with KVM's
 * dirty log.
 */
final class EagerBackend {
    private static final long CHUNK = 1L << 30;

    private EagerBackend() {
    }

    static MappedGuestMemory create(MemoryImage image, MemoryOptions options) throws IOException {
        MemorySegment mem = Libc.mmap(MemorySegment.NULL, image.size(), Libc.PROT_READ | Libc.PROT_WRITE,
                Libc.MAP_PRIVATE | Libc.MAP_ANONYMOUS | Libc.MAP_NORESERVE, -1, 0);
        try {
            fill(image, mem);
        } catch (RuntimeException | IOException e) {
            Libc.munmap(mem);
            throw e;
        }
        return new MappedGuestMemory(MemoryBackends.EAGER, image, mem, null, null, () -> Libc.munmap(mem));
    }

    /** Reads every data extent of {@code image} into {@code mem} (which reads zero elsewhere). */
    static void fill(MemoryImage image, MemorySegment mem) throws IOException {
        Map<Long, Integer> fds = new HashMap<>();
        try {
            for (Extent e : image.header().extents()) {
                if (e.isZero()) {
                    continue;
                }
                Integer fd = fds.get(e.layerId());
                if (fd == null) {
                    fd = Libc.open(image.layerPath(e.layerId()).toString(), Libc.O_RDONLY | Libc.O_CLOEXEC);
                    fds.put(e.layerId(), fd);
                }
                long done = 0;
                while (done < e.length()) {
                    long want = Math.min(CHUNK, e.length() - done);
                    long n = Libc.pread(fd, mem.asSlice(e.offset() + done, want), e.offsetInLayer() + done);
                    if (n == 0) {
                        throw new IOException("layer " + image.layerPath(e.layerId()) + " ended at "
                                + (e.offsetInLayer() + done) + ", the image needs " + (e.offsetInLayer() + e.length()));
                    }
                    done += n;
                }
            }
        } finally {
            fds.values().forEach(Libc::close);
        }
    }
}
