package io.sandboxd.vmm.memory;

import static io.sandboxd.vmm.memory.TestImages.PAGE;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sandboxd.vmm.snapshot.MemoryImage;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.BitSet;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class MappedGuestMemoryTest {
    @TempDir
    Path dir;

    @ParameterizedTest
    @EnumSource(MemoryBackends.class)
    void eachBackendYieldsABaseImagesBytes(MemoryBackends backend) throws Exception {
        TestImages.Image img = TestImages.base(dir, 300, 1);
        try (MappedGuestMemory mem = backend.create(img.image())) {
            assertEquals(backend, mem.backend());
            assertSameBytes(img.bytes(), mem);
        }
    }

    @ParameterizedTest
    @EnumSource(MemoryBackends.class)
    void eachBackendYieldsATenthGenerationChainsBytes(MemoryBackends backend) throws Exception {
        TestImages.Image img = TestImages.chain(dir, 300, 10, 2);
        assertEquals(10, img.image().generation());
        try (MappedGuestMemory mem = backend.create(MemoryImage.open(img.image().headerPath()))) {
            assertEquals(backend, mem.backend(), "a 10-generation chain of 300 pages stays under the mapping cap");
            assertSameBytes(img.bytes(), mem);
        }
    }

    @Test
    void aFragmentedChainFallsBackToEagerForPrivateMap() throws Exception {
        TestImages.Image img = TestImages.chain(dir, 300, 3, 3);
        try (MappedGuestMemory mem = MemoryBackends.PRIVATE_MAP.create(img.image(),
                MemoryOptions.DEFAULT.withMaxPrivateMappings(0))) {
            assertEquals(MemoryBackends.EAGER, mem.backend());
            assertSameBytes(img.bytes(), mem);
        }
    }

    @Test
    void regionsSkipTheMmioHoleAboveThreeGiB() {
        MemorySegment fake = MemorySegment.ofAddress(1L << 40).reinterpret(5L << 30);
        List<io.sandboxd.vmm.GuestRegion> regions = GuestLayout.regions(fake, true);
        assertEquals(2, regions.size());
        assertEquals(0, regions.get(0).guestPhysAddr());
        assertEquals(3L << 30, regions.get(0).host().byteSize());
        assertEquals(4L << 30, regions.get(1).guestPhysAddr());
        assertEquals(3L << 30, regions.get(1).imageOffset());
        assertEquals(2L << 30, regions.get(1).host().byteSize());
    }

    @Test
    void privateMapTracksExactlyTheWrittenPages() throws Exception {
        TestImages.Image img = TestImages.chain(dir, 256, 2, 4);
        try (MappedGuestMemory mem = MemoryBackends.PRIVATE_MAP.create(img.image())) {
            for (int p = 0; p < 256; p++) {
                TestImages.peek(mem, (long) p * PAGE); // reads everywhere: none of them counts
            }
            BitSet expected = new BitSet();
            for (int p : new int[] {0, 3, 7, 100, 255}) {
                TestImages.poke(mem, (long) p * PAGE + 5, (byte) 0x42);
                expected.set(p);
            }
            BitSet written = mem.writtenPages();
            if (anonymousReadFaultsTakePrivatePages()) {
                // Kernels booted with PVM's pvm_no_zero_page test aid give a read of an anonymous (zero-extent) page
                // a private page, which pagemap cannot tell from a write: those pages may be reported too (more is
                // harmless for a snapshot, fewer is not), but nothing else may.
                BitSet extra = (BitSet) written.clone();
                extra.andNot(expected);
                BitSet missing = (BitSet) expected.clone();
                missing.andNot(written);
                assertEquals(new BitSet(), missing, "every written page is reported");
                extra.stream().forEach(p -> assertTrue(img.image().resolve((long) p * PAGE).isZero(),
                        "page " + p + " was only read and is not a zero page, yet reported written"));
            } else {
                assertEquals(expected, written);
            }
            MemoryImage next = mem.snapshot(null);
            assertEquals(3, next.generation());
            byte[] bytes = img.bytes().clone();
            expected.stream().forEach(p -> bytes[p * PAGE + 5] = 0x42);
            try (MappedGuestMemory again = MemoryBackends.UFFD.create(MemoryImage.open(next.headerPath()))) {
                assertSameBytes(bytes, again);
            }
        }
    }

    /** Whether reading an untouched anonymous page here maps a private page instead of the shared zero page. */
    static boolean anonymousReadFaultsTakePrivatePages() {
        MemorySegment m = io.sandboxd.ffi.Libc.mmap(MemorySegment.NULL, PAGE, io.sandboxd.ffi.Libc.PROT_READ
                | io.sandboxd.ffi.Libc.PROT_WRITE, io.sandboxd.ffi.Libc.MAP_PRIVATE | io.sandboxd.ffi.Libc.MAP_ANONYMOUS,
                -1, 0);
        try {
            m.get(java.lang.foreign.ValueLayout.JAVA_BYTE, 0);
            return Pagemap.privatelyWrittenPages(m).get(0);
        } finally {
            io.sandboxd.ffi.Libc.munmap(m);
        }
    }

    @Test
    void eagerMemoryNeedsTheKvmDirtyLogToSnapshot() throws Exception {
        TestImages.Image img = TestImages.base(dir, 64, 5);
        try (MappedGuestMemory mem = MemoryBackends.EAGER.create(img.image())) {
            assertThrows(UnsupportedOperationException.class, mem::writtenPages);
            assertThrows(IllegalArgumentException.class, () -> mem.snapshot(null));
            TestImages.poke(mem, 9L * PAGE, (byte) 7);
            BitSet kvm = new BitSet();
            kvm.set(9);
            MemoryImage next = mem.snapshot(kvm);
            assertEquals(PAGE, next.header().bytesInLayer(next.layerId()));
        }
    }

    @ParameterizedTest
    @EnumSource(MemoryBackends.class)
    void closeReleasesEveryFdAndMapping(MemoryBackends backend) throws Exception {
        TestImages.Image img = TestImages.chain(dir, 128, 3, 6);
        cycle(backend, img.image()); // JVM-side lazies (classes, thread-locals, arenas) settle first
        int fds = TestImages.openFds();
        int maps = TestImages.maps().size();
        long address;
        try (MappedGuestMemory mem = backend.create(img.image())) {
            address = mem.host().address();
            TestImages.peek(mem, 5L * PAGE);
            assertTrue(TestImages.mapsTouching(dir, address).size() > 0);
        }
        assertEquals(List.of(), TestImages.mapsTouching(dir, address));
        assertEquals(fds, TestImages.openFds());
        // Exact for what is ours (above); the JVM may commit a heap region meanwhile.
        assertTrue(Math.abs(TestImages.maps().size() - maps) <= 4, maps + " mappings before, " + TestImages.maps().size());
    }

    @ParameterizedTest
    @EnumSource(MemoryBackends.class)
    void soak500CyclesLeaveFdsAndMappingsUnchanged(MemoryBackends backend) throws Exception {
        TestImages.Image img = TestImages.chain(dir, 64, 2, 7);
        long guestBytes = 64L * PAGE;
        for (int i = 0; i < 20; i++) {
            cycle(backend, img.image()); // JIT, glibc per-thread arenas and its thread-stack cache settle first
        }
        int fds = TestImages.openFds();
        List<String> maps = TestImages.maps();
        java.util.Set<String> ours = new java.util.HashSet<>();
        for (int i = 0; i < 500; i++) {
            ours.add(Long.toHexString(cycle(backend, img.image())) + "-");
        }
        List<String> after = TestImages.maps();
        assertEquals(fds, TestImages.openFds(), "fds after 500 cycles");
        assertEquals(List.of(), TestImages.mapsTouching(dir, 0), "mappings of the image's files");
        List<String> left = TestImages.sized(after, guestBytes);
        left.removeAll(maps);
        left.removeIf(line -> ours.stream().noneMatch(line::startsWith));
        assertEquals(List.of(), left, "guest memory mappings still there after close");
        // The process's total may move by a few entries that are not ours (glibc's thread-stack cache and arenas
        // as page-server threads come and go); a leak of one mapping per cycle would show as hundreds.
        assertTrue(Math.abs(after.size() - maps.size()) <= 4, "mappings: " + maps.size() + " before, "
                + after.size() + " after 500 cycles");
    }

    @Test
    void closedMemoryRefusesUse() throws Exception {
        TestImages.Image img = TestImages.base(dir, 16, 8);
        MappedGuestMemory mem = MemoryBackends.UFFD.create(img.image());
        mem.close();
        mem.close(); // idempotent
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> mem.snapshot(null));
        assertTrue(e.getMessage().contains("closed"));
    }

    private static long cycle(MemoryBackends backend, MemoryImage image) throws Exception {
        try (MappedGuestMemory mem = backend.create(image)) {
            TestImages.peek(mem, 0);
            TestImages.poke(mem, 2L * PAGE + 1, (byte) 1);
            TestImages.peek(mem, mem.size() - 1);
            return mem.host().address();
        }
    }

    static void assertSameBytes(byte[] expected, MappedGuestMemory mem) {
        mem.populate(0, mem.size(), false);
        MemorySegment actual = mem.host();
        assertEquals(expected.length, actual.byteSize());
        long at = MemorySegment.mismatch(MemorySegment.ofArray(expected), 0, expected.length, actual, 0, expected.length);
        assertEquals(-1, at, "first different byte (page " + (at / PAGE) + ")");
    }
}
