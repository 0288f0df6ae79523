package io.sandboxd.vmm.memory;

/**
 * Counters of a uffd page server since it started.
 *
 * @param faults        missing-page faults served (each first touch, and each touch after a REMOVE)
 * @param copies        pages filled from the image with UFFDIO_COPY (faults and prefetch)
 * @param zeroFills     pages filled with zeros (zero ranges, removed pages, and after a failure)
 * @param writeFaults   write-protect faults: first writes to a page that was filled read-protected
 * @param alreadyMapped EEXIST answers: the page was there already (a prefetch or another thread won)
 * @param retries       EAGAIN answers: the mapping was changing; the page was deferred and served again
 * @param removes       UFFD_EVENT_REMOVE events (madvise DONTNEED/REMOVE by the guest's balloon or the host)
 * @param prefetched    pages copied in ahead of the guest from a recorded working set
 */
public record PageServerStats(long faults, long copies, long zeroFills, long writeFaults, long alreadyMapped,
                              long retries, long removes, long prefetched) {
}
