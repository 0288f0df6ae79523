package io.sandboxd.vmm.memory;

import io.sandboxd.vmm.GuestMemory;
import io.sandboxd.vmm.GuestRegion;
import io.sandboxd.vmm.snapshot.LayerWriter;
import io.sandboxd.vmm.snapshot.MemoryImage;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.BitSet;
import java.util.List;
import java.util.Optional;

/**
 * A guest's memory: one host mapping of the whole image, seen by the guest as {@link Region}s (see
 * {@link GuestLayout}), created by a {@link MemoryBackends} and owned by one VM. {@link #close()} releases every
 * mapping, fd and thread it holds; after that the segments must not be touched.
 *
 * <p>Host-side access from Java (device emulation, tests) goes through {@link #populate} first, or through
 * {@link #read}/{@link #write}, which do: a Java thread that faults on {@code uffd} memory waits in the JVM's
 * "in Java" state and so blocks safepoints, and the page server passes a safepoint each time it returns from a
 * native call: the JVM would deadlock. {@code populate} takes those faults inside a syscall (native state). vCPUs
 * fault inside {@code KVM_RUN}, already native.
 */
public final class MappedGuestMemory implements GuestMemory {
    /**
     * Pages written since restore, as seen by the host side of a backend (bit i = page i of the image). Both
     * trackers here see the VM's writes too (KVM writes through get_user_pages, which takes the same faults), so
     * memory with a tracker asks for no KVM dirty log: logging would only add write-protect exits.
     */
    interface WriteTracker {
        BitSet writtenPages();

        String describe();
    }

    private final MemoryBackends backend;
    private final MemoryImage image;
    private final MemorySegment host;
    private final List<GuestRegion> regions;
    private final UffdPageServer server;
    private final WriteTracker tracker;
    private final AutoCloseable release;
    private boolean closed;

    MappedGuestMemory(MemoryBackends backend, MemoryImage image, MemorySegment host, UffdPageServer server,
                WriteTracker tracker, AutoCloseable release) {
        this.backend = backend;
        this.image = image;
        this.host = host;
        this.regions = GuestLayout.regions(host, tracker == null);
        this.server = server;
        this.tracker = tracker;
        this.release = release;
    }

    public MemoryBackends backend() {
        return backend;
    }

    /** The image this memory was restored from (the parent of a snapshot taken from it). */
    public MemoryImage image() {
        return image;
    }

    @Override
    public List<GuestRegion> regions() {
        return regions;
    }

    /** The whole memory, image offset 0 at the start. */
    @Override
    public MemorySegment host() {
        return host;
    }

    public long size() {
        return host.byteSize();
    }

    public int pageSize() {
        return image.header().blockSize();
    }

    /**
     * Makes {@code [offset, offset+length)} resident (and writable when {@code write}, which for {@code uffd} with
     * write tracking also records the pages as written) by faulting it in from inside {@code madvise}. Cheap when
     * the pages are there already. Required before Java code touches {@code uffd} memory; see the class comment.
     */
    public void populate(long offset, long length, boolean write) {
        checkOpen();
        if (server != null) {
            long start = offset & -4096L;
            long end = Math.min(size(), (offset + length + 4095) & -4096L);
            io.sandboxd.ffi.Userfaultfd.populate(host.asSlice(start, end - start), write);
        }
    }

    /** Copies guest memory at {@code offset} into {@code dst}, safely for every backend. */
    public void read(long offset, MemorySegment dst) {
        populate(offset, dst.byteSize(), false);
        MemorySegment.copy(host, offset, dst, 0, dst.byteSize());
    }

    /** Copies {@code src} into guest memory at {@code offset}, safely for every backend. */
    public void write(long offset, MemorySegment src) {
        populate(offset, src.byteSize(), true);
        MemorySegment.copy(src, 0, host, offset, src.byteSize());
    }

    /** The uffd page server's counters; empty for other backends. */
    public Optional<PageServerStats> pageServerStats() {
        return server == null ? Optional.empty() : Optional.of(server.stats());
    }

    /** The failure that made this memory untrustworthy (its page source failed), if any. */
    public Optional<MemoryFailedException> failure() {
        return server == null ? Optional.empty() : Optional.ofNullable(server.failure());
    }

    /** How this backend knows which pages were written, for logs and {@code doctor}. */
    public String writeTracking() {
        return tracker == null ? "none on the host side (use the VM's KVM dirty log)" : tracker.describe();
    }

    /**
     * Pages written since restore as the host side knows them. eager memory has no host-side tracker: its VM must
     * use KVM's dirty log, passed to {@link #snapshot(BitSet)}.
     */
    public BitSet writtenPages() {
        checkOpen();
        if (tracker == null) {
            throw new UnsupportedOperationException(backend.id() + " memory has no host-side write tracking: "
                    + "pass the VM's KVM dirty log to snapshot()");
        }
        return tracker.writtenPages();
    }

    /**
     * Writes the pages written since {@code parent} was current as a new layer over it: the host-side set (pages
     * written since restore, a superset after an earlier snapshot, which is harmless) plus {@code kvmDirty} (the
     * VM's dirty log in image page numbers; only needed when the regions asked for one). Call with the vCPUs
     * stopped. Refused for failed memory: its content is not trusted.
     */
    @Override
    public MemoryImage snapshot(MemoryImage parent, BitSet kvmDirty) throws IOException {
        checkOpen();
        failure().ifPresent(f -> {
            throw new IllegalStateException("cannot snapshot failed memory: " + f.getMessage(), f);
        });
        if (parent.size() != size()) {
            throw new IllegalArgumentException("parent image of " + parent.size() + " bytes for memory of " + size());
        }
        BitSet dirty = new BitSet();
        if (tracker != null) {
            dirty.or(tracker.writtenPages());
        } else if (kvmDirty == null) {
            throw new IllegalArgumentException(backend.id() + " memory needs the VM's KVM dirty log to snapshot");
        }
        if (kvmDirty != null) {
            dirty.or(kvmDirty);
        }
        return LayerWriter.writeDiff(parent, host, dirty);
    }

    /** {@link #snapshot(MemoryImage, BitSet)} over the image this memory was restored from. */
    public MemoryImage snapshot(BitSet kvmDirty) throws IOException {
        return snapshot(image, kvmDirty);
    }

    /** uffd: writes the order in which pages were first needed next to the image, for the next restore to prefetch. */
    public void saveWorkingSet() throws IOException {
        checkOpen();
        if (server == null) {
            throw new UnsupportedOperationException(backend.id() + " memory records no working set (only uffd does)");
        }
        WorkingSet.save(image, server.workingSet(), size() / pageSize());
    }

    UffdPageServer pageServer() {
        return server;
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("guest memory is closed");
        }
    }

    /** Stops the page server (if any), wakes and unregisters faulting threads, unmaps everything, closes every fd. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            release.close();
        } catch (RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new IllegalStateException("releasing " + backend.id() + " guest memory failed", e);
        }
    }

    @Override
    public String toString() {
        return "MappedGuestMemory[" + backend.id() + ", " + (size() >> 20) + " MiB of " + image + "]";
    }
}
