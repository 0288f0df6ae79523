package io.sandboxd.vmm.memory;

import static io.sandboxd.ffi.Userfaultfd.UFFDIO_COPY_MODE_DONTWAKE;
import static io.sandboxd.ffi.Userfaultfd.UFFDIO_COPY_MODE_WP;
import static io.sandboxd.ffi.Userfaultfd.UFFD_EVENT_PAGEFAULT;
import static io.sandboxd.ffi.Userfaultfd.UFFD_EVENT_REMOVE;
import static io.sandboxd.ffi.Userfaultfd.UFFD_PAGEFAULT_FLAG_WP;
import static io.sandboxd.ffi.Userfaultfd.UFFD_PAGEFAULT_FLAG_WRITE;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import io.sandboxd.ffi.Errno;
import io.sandboxd.ffi.Libc;
import io.sandboxd.ffi.NativeException;
import io.sandboxd.ffi.Userfaultfd;
import io.sandboxd.ffi.Userfaultfd.UffdMsg;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Arrays;
import java.util.BitSet;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Consumer;

/**
 * Serves the missing-page faults of one guest memory registered with userfaultfd, from a {@link PageSource}.
 *
 * <p>An agent with a duty cycle: {@link #doWork(int)} polls the uffd and a stop eventfd, reads up to
 * {@value #BATCH} {@code uffd_msg}s in one read, handles them, then retries deferred pages. {@link #start()} runs
 * it on a pooled platform thread (a blocked native poll would pin a virtual thread's carrier); tests step it by hand. The
 * hot path allocates nothing: messages and ioctl arguments live in segments allocated once, page state in
 * bitmaps sized at creation.
 *
 * <p>Answers from the kernel:
 * <ul>
 *   <li>EEXIST: the page is already mapped (a prefetch or a racing fault filled it). Fine; the faulting thread is
 *       woken explicitly, since a failed copy does not wake.</li>
 *   <li>EAGAIN: the address space is changing (a REMOVE event is pending and not yet read). The page is deferred
 *       and served again once the batch's events are handled.</li>
 *   <li>ESRCH: the process owning the memory is going away: the server stops.</li>
 *   <li>EFAULT (or any other error) while copying from the image: the page source failed, e.g. an I/O error
 *       reading the layer file. See below.</li>
 * </ul>
 *
 * <p>Failure: the memory is marked failed ({@link #failure()}) and {@code onFailure} is called once, so the VM owning
 * it stops its vCPUs and is marked failed (a vCPU waiting on the fault inside KVM_RUN leaves it with EINTR when
 * kicked: KVM waits for user faults interruptibly). Then the faulting page, and every later fault, is filled with
 * zeros, only so that no host thread (a device emulation thread reading guest memory) stays blocked forever; the
 * memory's content is no longer trusted and a snapshot of it is refused. Two alternatives were rejected:
 * UFFD_FEATURE_SIGBUS applies to every fault of the registration (no lazy serving at all), and UFFDIO_POISON or
 * SIGBUS to the faulting thread would be delivered to a JVM thread, where an unexpected SIGBUS kills the whole
 * daemon instead of one VM. Other memories have their own server and are not affected.
 *
 * <p>Write tracking (when the kernel offers UFFD_FEATURE_PAGEFAULT_FLAG_WP for anonymous memory): read faults are
 * filled write-protected (UFFDIO_COPY_MODE_WP), the first write to such a page raises a WP fault that marks it
 * written and lifts the protection; write faults are filled writable and marked at once. Writes by KVM (guest
 * accesses through get_user_pages) raise the same faults, so this set covers the VM's writes too. A removed page
 * counts as written (it now reads zero, unlike the image). Without WP the set is every page filled or removed, a
 * superset that still gives a correct snapshot.
 */
final class UffdPageServer implements AutoCloseable {
    static final int BATCH = 64;
    private static final int PAGE_SHIFT = 12;
    private static final long PAGE = 1L << PAGE_SHIFT;
    private static final int KIND_READ = 0;
    private static final int KIND_WRITE = 1;
    private static final int KIND_WP = 2;
    private static final VarHandle WORDS = MethodHandles.arrayElementVarHandle(long[].class);

    private final String name;
    private final int uffd;
    private final int stopFd;
    private final long base;
    private final long size;
    private final PageSource source;
    private final boolean trackWrites;
    private final Consumer<MemoryFailedException> onFailure;

    /**
     * Page servers run on pooled platform threads: starting a thread per restore would cost more than the rest of
     * the uffd set-up. Idle threads leave after a minute.
     */
    private static final ExecutorService THREADS = Executors.newCachedThreadPool(
            Thread.ofPlatform().name("uffd-server-", 0).daemon(true).factory());

    // Scratch for the ioctl arguments and messages (a few KiB): automatic, so closing a server needs no shared-arena
    // handshake with every thread of the JVM. Nothing here is an fd or a mapping.
    private final Arena arena = Arena.ofAuto();
    private final MemorySegment msgs;
    private final MemorySegment copyArg;
    private final MemorySegment zeroArg;
    private final MemorySegment wpArg;
    private final MemorySegment rangeArg;
    private final MemorySegment pollFds;
    private final MemorySegment zeroPage;
    private final MemorySegment counter;

    // Page state, touched only by the serving thread (or the creating thread before start()).
    private final long[] inWorkingSet;
    private final long[] removed;
    private long[] deferred = new long[16];
    private int deferredCount;
    // Read by snapshotting threads: atomic word updates.
    private final long[] written;
    private int[] order = new int[1024];
    private int readBatch = BATCH;
    private int orderCount;

    private volatile long faults;
    private volatile long copies;
    private volatile long zeroFills;
    private volatile long writeFaults;
    private volatile long alreadyMapped;
    private volatile long retries;
    private volatile long removes;
    private volatile long prefetched;
    private volatile MemoryFailedException failure;
    private volatile boolean stopped;
    private Future<?> serving;

    UffdPageServer(String name, int uffd, MemorySegment memory, PageSource source, boolean trackWrites,
                   Consumer<MemoryFailedException> onFailure) {
        this.name = name;
        this.uffd = uffd;
        this.base = memory.address();
        this.size = memory.byteSize();
        this.source = source;
        this.trackWrites = trackWrites;
        this.onFailure = onFailure;
        int pages = (int) (size >>> PAGE_SHIFT);
        int words = (pages + 63) >>> 6;
        this.inWorkingSet = new long[words];
        this.removed = new long[words];
        this.written = new long[words];
        // One allocation, sliced: the zero page first (page aligned), then the messages and ioctl arguments.
        MemorySegment scratch = arena.allocate(PAGE + BATCH * UffdMsg.BYTES + 256, PAGE);
        this.zeroPage = scratch.asSlice(0, PAGE);
        this.msgs = scratch.asSlice(PAGE, BATCH * UffdMsg.BYTES);
        long at = PAGE + BATCH * UffdMsg.BYTES;
        this.copyArg = scratch.asSlice(at, Userfaultfd.UffdioCopy.LAYOUT.byteSize());
        this.zeroArg = scratch.asSlice(at += 48, Userfaultfd.UffdioZeropage.LAYOUT.byteSize());
        this.wpArg = scratch.asSlice(at += 32, Userfaultfd.UffdioWriteprotect.LAYOUT.byteSize());
        this.rangeArg = scratch.asSlice(at += 32, Userfaultfd.UffdioRange.LAYOUT.byteSize());
        this.pollFds = scratch.asSlice(at += 16, 2 * Libc.POLLFD.byteSize());
        this.counter = scratch.asSlice(at += 16, 8);
        this.stopFd = Libc.eventfd(0, Libc.EFD_CLOEXEC | Libc.EFD_NONBLOCK);
        pollFds.set(JAVA_INT, 0, uffd);
        pollFds.set(JAVA_SHORT, 4, Libc.POLLIN);
        pollFds.set(JAVA_INT, 8, stopFd);
        pollFds.set(JAVA_SHORT, 12, Libc.POLLIN);
    }

    /** Runs the server on its own platform thread until {@link #close()}. */
    void start() {
        serving = THREADS.submit(this::run);
    }

    private void run() {
        Thread.currentThread().setName("uffd-" + name);
        try {
            serve();
        } finally {
            Thread.currentThread().setName("uffd-server-idle");
        }
    }

    private void serve() {
        while (!stopped) {
            try {
                doWork(-1);
            } catch (Throwable t) {
                // The loop never dies silently: an unexpected error fails this memory and serving goes on (zeros),
                // so no faulting thread is left blocked.
                fail(-1, t instanceof Exception e ? e : new RuntimeException(t));
                if (t instanceof NativeException ne && (ne.call().equals("poll") || ne.call().equals("read"))) {
                    return; // the uffd itself is unusable: retrying would spin; close() wakes and unregisters waiters
                }
            }
        }
    }

    /**
     * One duty cycle: waits up to {@code timeoutMillis} (-1: forever) for messages or the stop signal, handles a
     * batch, retries deferred pages. Returns the number of messages and retries handled.
     */
    int doWork(int timeoutMillis) {
        int timeout = deferredCount > 0 && (timeoutMillis < 0 || timeoutMillis > 1) ? 1 : timeoutMillis;
        int r = Libc.pollRaw(pollFds, 2, timeout);
        if (r < 0) {
            if (r == -Errno.EINTR) {
                return 0;
            }
            throw new NativeException("poll", -r, "uffd page server " + name);
        }
        if (pollFds.get(JAVA_SHORT, 14) != 0) {
            stopped = true;
        }
        int work = 0;
        if ((pollFds.get(JAVA_SHORT, 6) & Libc.POLLIN) != 0) {
            long n = Libc.readRaw(uffd, msgs, readBatch * UffdMsg.BYTES);
            if (n > 0) {
                for (long off = 0; off < n; off += UffdMsg.BYTES) {
                    handle(off);
                    work++;
                }
            } else if (n != -Errno.EAGAIN && n != -Errno.EINTR) {
                throw new NativeException("read", (int) -n, "userfaultfd of " + name);
            }
        }
        if (deferredCount > 0) {
            work += retryDeferred();
        }
        return work;
    }

    private void handle(long off) {
        int event = msgs.get(JAVA_BYTE, off + UffdMsg.EVENT) & 0xff;
        if (event == UFFD_EVENT_PAGEFAULT) {
            long flags = msgs.get(JAVA_LONG, off + UffdMsg.PAGEFAULT_FLAGS);
            long addr = msgs.get(JAVA_LONG, off + UffdMsg.PAGEFAULT_ADDRESS) & -PAGE;
            long offset = addr - base;
            if (offset < 0 || offset >= size) {
                return; // not ours: cannot happen with one registration per uffd
            }
            int page = (int) (offset >>> PAGE_SHIFT);
            if ((flags & UFFD_PAGEFAULT_FLAG_WP) != 0) {
                writeFaults++;
                unprotect(page);
                return;
            }
            faults++;
            if (!test(inWorkingSet, page)) {
                setBit(inWorkingSet, page);
                appendToWorkingSet(page);
            }
            serve(page, (flags & UFFD_PAGEFAULT_FLAG_WRITE) != 0 ? KIND_WRITE : KIND_READ);
        } else if (event == UFFD_EVENT_REMOVE) {
            removes++;
            long start = Math.max(msgs.get(JAVA_LONG, off + UffdMsg.REMOVE_START), base);
            long end = Math.min(msgs.get(JAVA_LONG, off + UffdMsg.REMOVE_END), base + size);
            // The range now reads zero: serve zeros on the next fault, and count it as written (it differs from
            // the image) so a snapshot records the zeros.
            for (long a = (start - base) >>> PAGE_SHIFT, e = (end - base + PAGE - 1) >>> PAGE_SHIFT; a < e; a++) {
                setBit(removed, (int) a);
                markWritten((int) a);
            }
        }
        // FORK, REMAP and UNMAP are not requested in the API handshake, so they never arrive.
    }

    /** Fills one missing page; returns false when it had to be deferred. */
    private boolean serve(int page, int kind) {
        long offset = (long) page << PAGE_SHIFT;
        long addr = base + offset;
        if (failure != null) {
            return result(Userfaultfd.zeropageRaw(uffd, zeroArg, addr, PAGE, 0), page, kind, true);
        }
        boolean write = kind == KIND_WRITE;
        if (write || !trackWrites) {
            markWritten(page); // before the copy wakes the writer
        }
        long mode = trackWrites && !write ? UFFDIO_COPY_MODE_WP : 0;
        long src = test(removed, page) ? 0 : source.address(source.find(offset), offset);
        int r;
        if (src != 0) {
            r = Userfaultfd.copyRaw(uffd, copyArg, addr, src, PAGE, mode);
        } else {
            zeroFills++;
            // UFFDIO_ZEROPAGE cannot map write-protected: when tracking, copy a zero page with WP instead.
            r = mode != 0 ? Userfaultfd.copyRaw(uffd, copyArg, addr, zeroPage.address(), PAGE, mode)
                    : Userfaultfd.zeropageRaw(uffd, zeroArg, addr, PAGE, 0);
        }
        return result(r, page, kind, src == 0);
    }

    private boolean result(int r, int page, int kind, boolean zero) {
        long addr = base + ((long) page << PAGE_SHIFT);
        if (r == 0) {
            if (!zero) {
                copies++;
            }
            clearBit(removed, page);
            return true;
        }
        switch (-r) {
            case Errno.EEXIST -> {
                alreadyMapped++;
                clearBit(removed, page);
                Userfaultfd.wakeRaw(uffd, rangeArg, addr, PAGE);
                return true;
            }
            case Errno.EAGAIN -> {
                retries++;
                defer(page, kind);
                return false;
            }
            case Errno.ESRCH, Errno.ENOENT -> {
                stopped = true; // the address space or the mapping is gone: nobody is left to serve
                return true;
            }
            default -> {
                if (failure != null) {
                    return true; // even zeros cannot be mapped: nothing more to do for this page
                }
                fail((long) page << PAGE_SHIFT, new NativeException("ioctl(UFFDIO_COPY)", -r,
                        "copying guest page at image offset 0x" + Long.toHexString((long) page << PAGE_SHIFT)
                                + " from the memory image"));
                return serve(page, kind);
            }
        }
    }

    private void unprotect(int page) {
        markWritten(page);
        long addr = base + ((long) page << PAGE_SHIFT);
        int r = Userfaultfd.writeprotectRaw(uffd, wpArg, addr, PAGE, 0); // lifts WP and wakes the writer
        if (r == -Errno.EAGAIN) {
            retries++;
            defer(page, KIND_WP);
        } else if (r < 0 && r != -Errno.ENOENT && r != -Errno.ESRCH) {
            fail((long) page << PAGE_SHIFT, new NativeException("ioctl(UFFDIO_WRITEPROTECT)", -r));
            Userfaultfd.wakeRaw(uffd, rangeArg, addr, PAGE);
        }
    }

    private void defer(int page, int kind) {
        if (deferredCount == deferred.length) {
            deferred = Arrays.copyOf(deferred, deferred.length * 2);
        }
        deferred[deferredCount++] = ((long) page << 2) | kind;
    }

    private int retryDeferred() {
        int n = deferredCount;
        long[] items = deferred;
        deferred = new long[Math.max(16, n)];
        deferredCount = 0;
        for (int i = 0; i < n; i++) {
            int page = (int) (items[i] >>> 2);
            int kind = (int) (items[i] & 3);
            if (kind == KIND_WP) {
                unprotect(page);
            } else {
                serve(page, kind);
            }
        }
        return n;
    }

    /**
     * Copies recorded pages in before the guest runs (call before {@link #start()}), coalescing neighbours that
     * are contiguous in one layer into one UFFDIO_COPY. Zero pages are left to fault: mapping them costs little.
     */
    void prefetch(int[] pages) {
        int i = 0;
        while (i < pages.length) {
            int first = pages[i];
            long offset = (long) first << PAGE_SHIFT;
            int extent = source.find(offset);
            long src = test(removed, first) ? 0 : source.address(extent, offset);
            long extentEnd = source.extentEnd(extent);
            int run = 1;
            while (i + run < pages.length && pages[i + run] == first + run
                    && ((long) (first + run + 1) << PAGE_SHIFT) <= extentEnd) {
                run++;
            }
            for (int p = first; p < first + run; p++) {
                if (!test(inWorkingSet, p)) {
                    setBit(inWorkingSet, p);
                    appendToWorkingSet(p);
                }
                if (!trackWrites) {
                    markWritten(p);
                }
            }
            long wp = trackWrites ? UFFDIO_COPY_MODE_WP : 0;
            int r;
            if (src != 0) {
                r = Userfaultfd.copyRaw(uffd, copyArg, base + offset, src, (long) run << PAGE_SHIFT,
                        UFFDIO_COPY_MODE_DONTWAKE | wp);
            } else if (!trackWrites) {
                r = Userfaultfd.zeropageRaw(uffd, zeroArg, base + offset, (long) run << PAGE_SHIFT,
                        Userfaultfd.UFFDIO_ZEROPAGE_MODE_DONTWAKE);
            } else {
                // Zero pages must be mapped write-protected too (or their first write goes unseen): one page at a
                // time from the zero buffer, since UFFDIO_ZEROPAGE has no WP mode.
                r = 0;
                for (int p = 0; p < run && r == 0; p++) {
                    r = Userfaultfd.copyRaw(uffd, copyArg, base + offset + ((long) p << PAGE_SHIFT),
                            zeroPage.address(), PAGE, UFFDIO_COPY_MODE_DONTWAKE | wp);
                }
            }
            if (r == 0) {
                prefetched += run;
                if (src != 0) {
                    copies += run;
                } else {
                    zeroFills += run;
                }
            } else if (r == -Errno.EEXIST) {
                alreadyMapped++; // a duplicate in the recorded list: the rest of the run will fault if needed
            } else {
                throw new NativeException("ioctl(UFFDIO_COPY)", -r, "prefetching " + run + " pages at image offset 0x"
                        + Long.toHexString(offset) + " for " + name);
            }
            i += run;
        }
    }

    private void fail(long offset, Exception cause) {
        if (failure != null) {
            return;
        }
        MemoryFailedException f = new MemoryFailedException("guest memory " + name + " failed: its page source could "
                + "not provide " + (offset < 0 ? "a page" : "the page at image offset 0x" + Long.toHexString(offset))
                + " (" + cause.getMessage() + "); the VM using it must be stopped and its memory is no longer "
                + "trusted (faults are answered with zero pages only to release waiting threads)", cause);
        failure = f;
        try {
            onFailure.accept(f);
        } catch (RuntimeException e) {
            f.addSuppressed(e);
        }
    }

    private synchronized void appendToWorkingSet(int page) {
        if (orderCount == order.length) {
            order = Arrays.copyOf(order, order.length * 2);
        }
        order[orderCount++] = page;
    }

    /** Pages in the order they were first needed (faulted or prefetched). */
    synchronized int[] workingSet() {
        return Arrays.copyOf(order, orderCount);
    }

    BitSet writtenPages() {
        long[] copy = new long[written.length];
        for (int i = 0; i < copy.length; i++) {
            copy[i] = (long) WORDS.getVolatile(written, i);
        }
        return BitSet.valueOf(copy);
    }

    /** Messages per read (tests read one at a time to hold a REMOVE event unread while a fault is served). */
    void readBatch(int n) {
        if (n < 1 || n > BATCH) {
            throw new IllegalArgumentException("read batch " + n + " not in [1, " + BATCH + "]");
        }
        readBatch = n;
    }

    int uffd() {
        return uffd;
    }

    boolean tracksWrites() {
        return trackWrites;
    }

    PageServerStats stats() {
        return new PageServerStats(faults, copies, zeroFills, writeFaults, alreadyMapped, retries, removes, prefetched);
    }

    MemoryFailedException failure() {
        return failure;
    }

    boolean stopped() {
        return stopped;
    }

    private void markWritten(int page) {
        WORDS.getAndBitwiseOr(written, page >>> 6, 1L << page);
    }

    private static boolean test(long[] bits, int i) {
        return (bits[i >>> 6] & (1L << i)) != 0;
    }

    private static void setBit(long[] bits, int i) {
        bits[i >>> 6] |= 1L << i;
    }

    private static void clearBit(long[] bits, int i) {
        bits[i >>> 6] &= ~(1L << i);
    }

    /** Stops the serving thread (eventfd), waits for it, then wakes every thread still waiting on a fault. */
    @Override
    public void close() {
        counter.set(JAVA_LONG, 0, 1);
        Libc.writeRaw(stopFd, counter, 8);
        if (serving != null) {
            boolean interrupted = false;
            while (true) {
                try {
                    serving.get();
                    break;
                } catch (InterruptedException e) {
                    interrupted = true;
                } catch (ExecutionException e) {
                    break; // run() records failures itself; nothing more to do here
                }
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
        stopped = true;
        Userfaultfd.wakeRaw(uffd, rangeArg, base, size);
        Libc.close(stopFd);
    }
}
