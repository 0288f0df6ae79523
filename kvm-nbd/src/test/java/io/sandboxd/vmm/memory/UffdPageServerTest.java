package io.sandboxd.vmm.memory;

import static io.sandboxd.vmm.memory.TestImages.PAGE;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sandboxd.ffi.Libc;
import io.sandboxd.vmm.snapshot.MemoryImage;
import java.io.RandomAccessFile;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.BitSet;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The uffd backend's page server, mostly stepped by hand from the test thread to make races deterministic. */
class UffdPageServerTest {
    private static final MemoryOptions MANUAL = MemoryOptions.DEFAULT.withPageServerThread(false);

    @TempDir
    Path dir;

    @Test
    void faultsOnlyThePagesTouched() throws Exception {
        TestImages.Image img = TestImages.base(dir, 512, 11);
        try (MappedGuestMemory mem = MemoryBackends.UFFD.create(img.image())) {
            int[] touched = {0, 3, 7, 8, 200, 510}; // 3 and 7 are zero pages in the image
            for (int p : touched) {
                assertEquals(img.bytes()[p * PAGE + 17], TestImages.peek(mem, (long) p * PAGE + 17));
                TestImages.peek(mem, (long) p * PAGE + 100); // same page again: no new fault
            }
            PageServerStats s = settled(mem);
            assertEquals(touched.length, s.faults());
            assertEquals(4, s.copies());
            assertEquals(2, s.zeroFills());
            assertEquals(0, s.prefetched());
            assertArrayEquals(touched, mem.pageServer().workingSet());
        }
    }

    @Test
    void writeProtectTracksExactlyTheWrittenPagesIncludingAfterReads() throws Exception {
        Assumptions.assumeTrue(UffdBackend.writeProtectSupported(),
                "this kernel offers no userfaultfd write-protect for anonymous memory");
        TestImages.Image img = TestImages.base(dir, 128, 12);
        try (MappedGuestMemory mem = MemoryBackends.UFFD.create(img.image())) {
            for (int p = 0; p < 64; p++) {
                TestImages.peek(mem, (long) p * PAGE);
            }
            BitSet expected = new BitSet();
            for (int p : new int[] {1, 3, 10, 63, 64, 100}) { // 1..63 were read first (WP fault), 64, 100 not
                TestImages.poke(mem, (long) p * PAGE + 9, (byte) 0x77);
                expected.set(p);
            }
            assertEquals(expected, mem.writtenPages());
            PageServerStats s = settled(mem);
            assertEquals(4, s.writeFaults());
            assertEquals(66, s.faults());
            assertTrue(mem.writeTracking().contains("write-protect"));

            MemoryImage next = mem.snapshot(null);
            assertEquals(6L * PAGE, Files.size(next.layerPath(next.layerId())), "the diff holds exactly the written pages");
            byte[] bytes = img.bytes().clone();
            expected.stream().forEach(p -> bytes[p * PAGE + 9] = 0x77);
            for (MemoryBackends b : MemoryBackends.values()) {
                try (MappedGuestMemory again = b.create(MemoryImage.open(next.headerPath()))) {
                    MappedGuestMemoryTest.assertSameBytes(bytes, again);
                }
            }
        }
    }

    @Test
    void twoThreadsOnOnePageGiveOneCopyAndOneEexist() throws Exception {
        TestImages.Image img = TestImages.base(dir, 16, 13);
        try (MappedGuestMemory mem = MemoryBackends.UFFD.create(img.image(), MANUAL)) {
            Toucher a = new Toucher(mem, 5L * PAGE);
            Toucher b = new Toucher(mem, 5L * PAGE + 8);
            TestImages.awaitBlockedInUserfault(a.tid());
            TestImages.awaitBlockedInUserfault(b.tid());
            UffdPageServer server = mem.pageServer();
            while (!(a.done() && b.done())) {
                server.doWork(100);
            }
            assertEquals(img.bytes()[5 * PAGE], a.value());
            assertEquals(img.bytes()[5 * PAGE + 8], b.value());
            PageServerStats s = mem.pageServerStats().orElseThrow();
            assertEquals(2, s.faults());
            assertEquals(1, s.copies());
            assertEquals(1, s.alreadyMapped());
        }
    }

    @Test
    void aPageFilledBehindTheServersBackIsAnEexistAndTheWaiterIsWoken() throws Exception {
        TestImages.Image img = TestImages.base(dir, 16, 14);
        try (MappedGuestMemory mem = MemoryBackends.UFFD.create(img.image(), MANUAL.withTrackWrites(false))) {
            Toucher t = new Toucher(mem, 2L * PAGE);
            TestImages.awaitBlockedInUserfault(t.tid());
            // Another filler (think: a prefetch) maps the page without waking anyone.
            try (var arena = java.lang.foreign.Arena.ofConfined()) {
                MemorySegment src = arena.allocate(PAGE, PAGE);
                src.fill((byte) 0x3c);
                MemorySegment arg = arena.allocate(io.sandboxd.ffi.Userfaultfd.UffdioCopy.LAYOUT);
                assertEquals(0, io.sandboxd.ffi.Userfaultfd.copyRaw(mem.pageServer().uffd(), arg,
                        mem.host().address() + 2 * PAGE, src.address(), PAGE,
                        io.sandboxd.ffi.Userfaultfd.UFFDIO_COPY_MODE_DONTWAKE));
            }
            Thread.sleep(50);
            assertFalse(t.done(), "DONTWAKE left the toucher waiting");
            while (!t.done()) {
                mem.pageServer().doWork(100);
            }
            assertEquals(0x3c, t.value());
            assertEquals(1, mem.pageServerStats().orElseThrow().alreadyMapped());
        }
    }

    @Test
    void aFaultDuringARemoveIsDeferredRetriedAndRemovedPagesComeBackZero() throws Exception {
        TestImages.Image img = TestImages.base(dir, 32, 15);
        try (MappedGuestMemory mem = MemoryBackends.UFFD.create(img.image(), MANUAL)) {
            UffdPageServer server = mem.pageServer();
            server.readBatch(1);
            Toucher first = new Toucher(mem, 0);
            while (!first.done()) {
                server.doWork(100);
            }
            assertEquals(img.bytes()[0], first.value());
            assertTrue(img.bytes()[0] != 0);

            Toucher faulting = new Toucher(mem, 10L * PAGE);
            TestImages.awaitBlockedInUserfault(faulting.tid());
            AtomicInteger madviseTid = new AtomicInteger();
            Thread madvise = Thread.ofPlatform().start(() -> {
                madviseTid.set(Libc.gettid());
                Libc.madvise(mem.host().asSlice(0, 4 * PAGE), Libc.MADV_DONTNEED);
            });
            while (madviseTid.get() == 0) {
                Thread.onSpinWait();
            }
            TestImages.awaitBlockedInUserfault(madviseTid.get());
            // Reads return faults before events: the copy for the fault meets the unread REMOVE (EAGAIN) and is
            // deferred; the next read handles the event; a retry serves the page.
            while (!faulting.done() || madvise.isAlive()) {
                server.doWork(100);
            }
            PageServerStats s = mem.pageServerStats().orElseThrow();
            assertTrue(s.retries() >= 1, "EAGAIN seen: " + s);
            assertEquals(1, s.removes());
            assertEquals(img.bytes()[10 * PAGE], faulting.value());

            Toucher again = new Toucher(mem, 0);
            while (!again.done()) {
                server.doWork(100);
            }
            assertEquals(0, again.value(), "a removed page reads zero, not the image");
            assertEquals(s.faults() + 1, mem.pageServerStats().orElseThrow().faults(), "served again after REMOVE");
            BitSet written = mem.writtenPages();
            for (int p = 0; p < 4; p++) {
                assertTrue(written.get(p), "removed page " + p + " differs from the image: it counts as written");
            }
        }
    }

    @Test
    void anIoErrorFailsThatMemoryOnlyAndReleasesTheFaultingThread() throws Exception {
        TestImages.Image bad = TestImages.base(dir.resolve("bad"), 64, 16);
        TestImages.Image good = TestImages.base(dir.resolve("good"), 64, 17);
        List<MemoryFailedException> reported = new CopyOnWriteArrayList<>();
        try (MappedGuestMemory failing = MemoryBackends.UFFD.create(bad.image(), MemoryOptions.DEFAULT.withOnFailure(reported::add));
             MappedGuestMemory healthy = MemoryBackends.UFFD.create(good.image())) {
            // The layer file loses its data under the running memory: reading it now fails in the kernel's copy.
            try (RandomAccessFile f = new RandomAccessFile(bad.image().layerPath(bad.image().layerId()).toFile(), "rw")) {
                f.setLength(0);
            }
            Toucher t = new Toucher(failing, 4L * PAGE);
            t.thread.join(10_000);
            assertTrue(t.done(), "the faulting thread was released");
            assertEquals(0, t.value());
            MemoryFailedException f = failing.failure().orElseThrow();
            assertEquals(List.of(f), reported);
            assertTrue(f.getMessage().contains("page source could not provide the page at image offset 0x4000"), f.getMessage());
            assertTrue(f.getMessage().contains("UFFDIO_COPY") && f.getMessage().contains("EFAULT"), f.getMessage());
            IllegalStateException refused = assertThrows(IllegalStateException.class, () -> failing.snapshot(null));
            assertTrue(refused.getMessage().contains("failed memory"));

            MappedGuestMemoryTest.assertSameBytes(good.bytes(), healthy);
            assertTrue(healthy.failure().isEmpty());
            assertEquals(48, settled(healthy).copies());
        }
    }

    @Test
    void aRecordedWorkingSetIsPrefetchedBeforeTheGuestRuns() throws Exception {
        TestImages.Image img = TestImages.base(dir, 64, 18);
        int[] order = {9, 2, 10, 11, 12, 40};
        try (MappedGuestMemory mem = MemoryBackends.UFFD.create(img.image())) {
            for (int p : order) {
                TestImages.peek(mem, (long) p * PAGE);
            }
            mem.saveWorkingSet();
        }
        assertArrayEquals(order, WorkingSet.read(img.image().workingSetPath(), 64));
        try (MappedGuestMemory mem = MemoryBackends.UFFD.create(img.image(), MANUAL)) {
            PageServerStats s = mem.pageServerStats().orElseThrow();
            assertEquals(order.length, s.prefetched());
            assertEquals(1, s.zeroFills(), "page 11 is a zero page, prefetched too");
            for (int p : order) { // no server running: these would hang if they were not there already
                assertEquals(img.bytes()[p * PAGE + 1], TestImages.peek(mem, (long) p * PAGE + 1));
            }
            assertEquals(0, mem.pageServerStats().orElseThrow().faults());
        }
    }

    @Test
    void aDamagedWorkingSetIsRefusedClearly() throws Exception {
        TestImages.Image img = TestImages.base(dir, 8, 19);
        Files.write(img.image().workingSetPath(), new byte[] {'S', 'B', 'X', 'W', 'S', 'E', 'T', '1', 1, 0, 0, 0, 9, 0,
                0, 0, 0, 0, 0, 0});
        var e = assertThrows(io.sandboxd.layer.LayerFormatException.class,
                () -> MemoryBackends.UFFD.create(img.image()));
        assertTrue(e.getMessage().contains("truncated working set"), e.getMessage());
    }

    /** Stats once the server has finished the bookkeeping after its last fill (it wakes the toucher first). */
    private static PageServerStats settled(MappedGuestMemory mem) throws InterruptedException {
        long deadline = System.nanoTime() + 5_000_000_000L;
        PageServerStats s = mem.pageServerStats().orElseThrow();
        while (s.copies() + s.zeroFills() + s.alreadyMapped() < s.faults() && System.nanoTime() < deadline) {
            Thread.sleep(1);
            s = mem.pageServerStats().orElseThrow();
        }
        return s;
    }

    /** A platform thread reading one byte of guest memory (faulting on it), remembering its tid and the value. */
    private static final class Toucher {
        final Thread thread;
        private final AtomicInteger tid = new AtomicInteger();
        private volatile boolean done;
        private volatile byte value;

        Toucher(MappedGuestMemory mem, long offset) {
            thread = Thread.ofPlatform().daemon(true).start(() -> {
                tid.set(Libc.gettid());
                value = TestImages.peek(mem, offset);
                done = true;
            });
        }

        int tid() {
            while (tid.get() == 0) {
                Thread.onSpinWait();
            }
            return tid.get();
        }

        boolean done() {
            return done;
        }

        byte value() {
            assertNotNull(thread);
            return value;
        }
    }
}
