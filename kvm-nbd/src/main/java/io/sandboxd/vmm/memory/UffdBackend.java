package io.sandboxd.vmm.memory;

import io.sandboxd.ffi.Libc;
import io.sandboxd.ffi.Userfaultfd;
import io.sandboxd.vmm.snapshot.MemoryImage;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.BitSet;

/**
 * {@code uffd}: anonymous memory registered with userfaultfd (MISSING, plus WP for write tracking when the kernel
 * supports it on anonymous memory); an {@link UffdPageServer} fills pages from the image on first touch. The
 * recorded working set of the image, if any, is copied in before this returns, i.e. before the guest runs.
 */
final class UffdBackend {
    private static volatile Long supportedFeatures;

    private UffdBackend() {
    }

    /** True when this kernel can write-protect anonymous memory through userfaultfd. */
    static boolean writeProtectSupported() {
        return (features() & Userfaultfd.UFFD_FEATURE_PAGEFAULT_FLAG_WP) != 0;
    }

    private static long features() {
        Long f = supportedFeatures;
        if (f == null) {
            f = Userfaultfd.supportedFeatures();
            supportedFeatures = f;
        }
        return f;
    }

    static MappedGuestMemory create(MemoryImage image, MemoryOptions options) throws IOException {
        if (image.header().blockSize() != 4096) {
            throw new IllegalArgumentException("uffd memory serves 4 KiB pages; " + image + " has "
                    + image.header().blockSize() + "-byte blocks");
        }
        long size = image.size();
        long pages = size >>> 12;
        if (pages > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("uffd memory of " + size + " bytes is too large");
        }
        int[] workingSet = options.prefetchWorkingSet() ? WorkingSet.of(image, pages) : new int[0];
        boolean wp = options.trackWrites() && writeProtectSupported();
        MemorySegment mem = Libc.mmap(MemorySegment.NULL, size, Libc.PROT_READ | Libc.PROT_WRITE,
                Libc.MAP_PRIVATE | Libc.MAP_ANONYMOUS | Libc.MAP_NORESERVE, -1, 0);
        int uffd = -1;
        PageSource source = null;
        UffdPageServer server = null;
        try {
            uffd = Userfaultfd.open(Libc.O_CLOEXEC | Libc.O_NONBLOCK);
            Userfaultfd.api(uffd, Userfaultfd.UFFD_FEATURE_EVENT_REMOVE
                    | (wp ? Userfaultfd.UFFD_FEATURE_PAGEFAULT_FLAG_WP : 0));
            Userfaultfd.register(uffd, mem.address(), size, Userfaultfd.UFFDIO_REGISTER_MODE_MISSING
                    | (wp ? Userfaultfd.UFFDIO_REGISTER_MODE_WP : 0));
            source = PageSource.map(image);
            String name = (size >> 20) + "MiB@" + Long.toHexString(mem.address());
            server = new UffdPageServer(name, uffd, mem, source, wp, options.onFailure());
            server.prefetch(workingSet);
            if (options.startPageServer()) {
                server.start();
            }
        } catch (RuntimeException | Error e) {
            if (server != null) {
                server.close();
            }
            if (source != null) {
                source.close();
            }
            if (uffd >= 0) {
                Libc.close(uffd);
            }
            Libc.munmap(mem);
            throw e;
        }
        UffdPageServer s = server;
        PageSource src = source;
        int fd = uffd;
        MappedGuestMemory.WriteTracker tracker = new MappedGuestMemory.WriteTracker() {
            @Override
            public BitSet writtenPages() {
                return s.writtenPages();
            }

            @Override
            public String describe() {
                return s.tracksWrites() ? "userfaultfd write-protect (first write to each page faults once)"
                        : "every page the page server filled or that was removed (no userfaultfd WP here)";
            }
        };
        return new MappedGuestMemory(MemoryBackends.UFFD, image, mem, server, tracker, () -> {
            // Order: stop serving, wake every waiter, drop the registration (later faults are plain anonymous
            // faults, not blocked), then release the fd, the guest mapping and the image mappings.
            s.close();
            Userfaultfd.unregister(fd, mem.address(), size);
            Libc.close(fd);
            Libc.munmap(mem);
            src.close();
        });
    }
}
