package io.sandboxd.vmm.boot;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sandboxd.vmm.GuestRegion;
import io.sandboxd.vmm.boot.TestKernels.Segment;
import io.sandboxd.vmm.memory.GuestLayout;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The zero page, command line, initramfs and e820 map as the kernel will read them. */
class LinuxBootPlacementTest {
    static final long MIB = 1 << 20;
    @TempDir
    Path dir;

    private BootSpec spec(String cmdline, byte[] initramfs) throws Exception {
        byte[] text = TestKernels.pattern(8192, 7);
        Path kernel = dir.resolve("vmlinux");
        Files.write(kernel, TestKernels.elf(16 * MIB, TestKernels.segments(new Segment(1, 16 * MIB, text, 2 * MIB))));
        Path initrd = null;
        if (initramfs != null) {
            initrd = dir.resolve("initramfs.cpio");
            Files.write(initrd, initramfs);
        }
        return new BootSpec(kernel, initrd, cmdline);
    }

    @Test
    void writesTheZeroPageCommandLineInitramfsAndMemoryMap() throws Exception {
        byte[] initramfs = TestKernels.pattern(300_001, 9);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment ram = a.allocate(64 * MIB, 4096);
            List<GuestRegion> regions = GuestLayout.regions(ram, false);
            LinuxBoot.Placement p = LinuxBoot.place(spec("console=ttyS0 nosmp", initramfs), regions);

            MemorySegment zp = ram.asSlice(LinuxBoot.ZERO_PAGE, ZeroPage.SIZE);
            assertEquals((short) 0xaa55, zp.get(ValueLayout.JAVA_SHORT_UNALIGNED, 0x1fe));
            assertEquals(0x5372_6448, zp.get(ValueLayout.JAVA_INT_UNALIGNED, 0x202), "HdrS");
            assertEquals((byte) 0xff, zp.get(ValueLayout.JAVA_BYTE, 0x210), "type_of_loader");
            assertEquals(LinuxBoot.CMDLINE, zp.get(ValueLayout.JAVA_INT_UNALIGNED, 0x228));
            assertEquals("console=ttyS0 nosmp", cString(ram, LinuxBoot.CMDLINE));

            long initrd = Integer.toUnsignedLong(zp.get(ValueLayout.JAVA_INT_UNALIGNED, 0x218));
            assertEquals(p.initrd(), initrd);
            assertEquals(initramfs.length, zp.get(ValueLayout.JAVA_INT_UNALIGNED, 0x21c));
            assertEquals(0, initrd % 4096);
            assertTrue(initrd >= 18 * MIB && initrd + initramfs.length <= 64 * MIB, "above the kernel, inside RAM");
            assertArrayEquals(initramfs, ram.asSlice(initrd, initramfs.length).toArray(ValueLayout.JAVA_BYTE));

            assertEquals(3, zp.get(ValueLayout.JAVA_BYTE, 0x1e8), "e820 entries");
            long[][] expected = {{0, 0x9fc00, 1}, {0x9fc00, 0x100000 - 0x9fc00, 2}, {MIB, 63 * MIB, 1}};
            for (int i = 0; i < expected.length; i++) {
                long at = 0x2d0 + 20L * i;
                assertEquals(expected[i][0], zp.get(ValueLayout.JAVA_LONG_UNALIGNED, at), "e820[" + i + "].addr");
                assertEquals(expected[i][1], zp.get(ValueLayout.JAVA_LONG_UNALIGNED, at + 8), "e820[" + i + "].size");
                assertEquals(expected[i][2], zp.get(ValueLayout.JAVA_INT_UNALIGNED, at + 16), "e820[" + i + "].type");
            }
        }
    }

    @Test
    void mapsMemoryAboveTheMmioHoleAsRam() {
        MemorySegment fake = MemorySegment.NULL.reinterpret(4L << 30); // never touched: only sizes are read
        List<ZeroPage.E820Entry> map = LinuxBoot.e820(GuestLayout.regions(fake, false));
        assertEquals(4, map.size());
        assertEquals(new ZeroPage.E820Entry(MIB, (3L << 30) - MIB, ZeroPage.E820Type.RAM), map.get(2));
        assertEquals(new ZeroPage.E820Entry(4L << 30, 1L << 30, ZeroPage.E820Type.RAM), map.get(3));
    }

    @Test
    void refusesWhatDoesNotFit() throws Exception {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment ram = a.allocate(32 * MIB, 4096);
            List<GuestRegion> regions = GuestLayout.regions(ram, false);
            BootImageException big = assertThrows(BootImageException.class,
                    () -> LinuxBoot.place(spec("x", new byte[(int) (15 * MIB)]), regions));
            assertTrue(big.getMessage().contains("does not fit"), big.getMessage());
            BootImageException longLine = assertThrows(BootImageException.class,
                    () -> LinuxBoot.place(spec("a".repeat(LinuxBoot.MAX_CMDLINE), null), regions));
            assertTrue(longLine.getMessage().contains("command line"), longLine.getMessage());
            MemorySegment tiny = a.allocate(8 * MIB, 4096);
            assertThrows(BootImageException.class, () -> LinuxBoot.place(spec("x", null), GuestLayout.regions(tiny, false)));
        }
    }

    private static String cString(MemorySegment ram, long at) {
        int n = 0;
        while (ram.get(ValueLayout.JAVA_BYTE, at + n) != 0) {
            n++;
        }
        return new String(ram.asSlice(at, n).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.US_ASCII);
    }
}
