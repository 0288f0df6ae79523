package io.sandboxd.vmm.boot;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sandboxd.vmm.boot.TestKernels.Segment;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** vmlinux (ELF) and bzImage loading into guest memory, and every malformed file refused with the reason. */
class KernelLoaderTest {
    static final long MIB = 1 << 20;
    @TempDir
    Path dir;

    private Path file(byte[] bytes) throws Exception {
        Path f = Files.createTempFile(dir, "kernel", "");
        Files.write(f, bytes);
        return f;
    }

    @Test
    void loadsEveryElfSegmentAtItsPhysicalAddressAndZeroesItsTail() throws Exception {
        byte[] text = TestKernels.pattern(10_000, 1);
        byte[] data = TestKernels.pattern(5_000, 2);
        Path f = file(TestKernels.elf(16 * MIB, TestKernels.segments(new Segment(1, 16 * MIB, text, text.length),
                new Segment(4, 0, new byte[8], 8), // PT_NOTE: not loaded
                new Segment(1, 18 * MIB, data, 9_000))));
        try (Arena a = Arena.ofConfined()) {
            MemorySegment ram = a.allocate(32 * MIB, 4096);
            ram.fill((byte) 0x55);
            LoadedKernel k = LinuxBoot.loadKernel(f, ram);
            assertEquals(16 * MIB, k.entry());
            assertEquals(16 * MIB, k.start());
            assertEquals(18 * MIB + 9_000, k.end());
            assertNull(k.setupHeader());
            assertArrayEquals(text, ram.asSlice(16 * MIB, text.length).toArray(ValueLayout.JAVA_BYTE));
            assertArrayEquals(data, ram.asSlice(18 * MIB, data.length).toArray(ValueLayout.JAVA_BYTE));
            assertTrue(isAll(ram.asSlice(18 * MIB + data.length, 4_000), (byte) 0), "bss zeroed");
            assertTrue(isAll(ram.asSlice(0, MIB), (byte) 0x55), "nothing written below the kernel");
        }
    }

    @Test
    void refusesMalformedElfFiles() throws Exception {
        byte[] text = TestKernels.pattern(4096, 3);
        List<Segment> ok = TestKernels.segments(new Segment(1, 16 * MIB, text, text.length));
        assertRefused(TestKernels.elf(16 * MIB, ok, (byte) 1, 62), "ELF64");
        assertRefused(TestKernels.elf(16 * MIB, ok, (byte) 2, 183), "x86-64");
        assertRefused(TestKernels.elf(40 * MIB, ok), "entry point");
        assertRefused(TestKernels.elf(64 * MIB, TestKernels.segments(new Segment(1, 64 * MIB, text, text.length))),
                "does not fit");
        assertRefused(TestKernels.elf(16 * MIB, TestKernels.segments(new Segment(1, 30 * MIB, text, 8 * MIB))),
                "does not fit");
        assertRefused(TestKernels.elf(0x1000, TestKernels.segments(new Segment(1, 0x1000, text, text.length))),
                "does not fit");
        assertRefused(TestKernels.elf(16 * MIB, TestKernels.segments(new Segment(4, 16 * MIB, text, text.length))),
                "no loadable segment");
        byte[] full = TestKernels.elf(16 * MIB, ok);
        assertRefused(Arrays.copyOf(full, full.length - 100), "outside the file");
        assertRefused(Arrays.copyOf(full, 40), "ends at");
        byte[] manyHeaders = full.clone();
        java.nio.ByteBuffer.wrap(manyHeaders).order(java.nio.ByteOrder.LITTLE_ENDIAN).putShort(56, (short) 5000);
        assertRefused(manyHeaders, "program header table");
    }

    @Test
    void loadsABzImageAtItsPreferredAddressWithItsSetupHeader() throws Exception {
        byte[] payload = TestKernels.pattern(20_000, 4);
        byte[] image = TestKernels.bzImage(27, 0x020f, 0x7f, 16 * MIB, 8 * (int) MIB, payload);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment ram = a.allocate(32 * MIB, 4096);
            LoadedKernel k = LinuxBoot.loadKernel(file(image), ram);
            assertEquals(16 * MIB + 0x200, k.entry());
            assertEquals(24 * MIB, k.end(), "init_size decides how much room the kernel takes");
            assertArrayEquals(payload, ram.asSlice(16 * MIB, payload.length).toArray(ValueLayout.JAVA_BYTE));
            assertEquals(0x26c - 0x1f1, k.setupHeader().length);
            assertEquals(27, k.setupHeader()[0]);
        }
    }

    @Test
    void refusesBzImagesWithoutA64BitEntryOrRoom() throws Exception {
        byte[] payload = TestKernels.pattern(20_000, 5);
        assertRefused(TestKernels.bzImage(4, 0x020b, 1, 16 * MIB, 0, payload), "64-bit entry");
        assertRefused(TestKernels.bzImage(4, 0x020f, 0, 16 * MIB, 0, payload), "64-bit entry");
        assertRefused(TestKernels.bzImage(4, 0x020f, 1, 16 * MIB, 64 * (int) MIB, payload), "needs guest memory");
        byte[] notBz = new byte[8192];
        assertRefused(notBz, "neither an ELF vmlinux nor a bzImage");
    }

    private void assertRefused(byte[] bytes, String reason) throws Exception {
        Path f = file(bytes);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment ram = a.allocate(32 * MIB, 4096);
            BootImageException e = assertThrows(BootImageException.class, () -> LinuxBoot.loadKernel(f, ram));
            assertTrue(e.getMessage().contains(reason), e.getMessage());
        }
    }

    static boolean isAll(MemorySegment s, byte b) {
        for (long i = 0; i < s.byteSize(); i++) {
            if (s.get(ValueLayout.JAVA_BYTE, i) != b) {
                return false;
            }
        }
        return true;
    }
}
