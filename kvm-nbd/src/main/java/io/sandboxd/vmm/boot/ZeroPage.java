package io.sandboxd.vmm.boot;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;

/**
 * The zero page ({@code struct boot_params}, 4 KiB) the kernel reads at its entry (its address in RSI): the
 * setup header (copied from a bzImage, or made for a vmlinux), the command line and initramfs pointers, and the
 * e820 memory map. Offsets are the boot protocol's (Documentation/arch/x86/zero-page.rst, boot.rst).
 */
public final class ZeroPage {
    public static final int SIZE = 4096;
    static final int EXT_RAMDISK_IMAGE = 0x0c0;
    static final int EXT_RAMDISK_SIZE = 0x0c4;
    static final int EXT_CMD_LINE_PTR = 0x0c8;
    static final int E820_ENTRIES = 0x1e8;
    static final int SETUP_HEADER = 0x1f1;
    static final int BOOT_FLAG = 0x1fe;
    static final int HEADER = 0x202;
    static final int VERSION = 0x206;
    static final int TYPE_OF_LOADER = 0x210;
    static final int LOADFLAGS = 0x211;
    static final int RAMDISK_IMAGE = 0x218;
    static final int RAMDISK_SIZE = 0x21c;
    static final int HEAP_END_PTR = 0x224;
    static final int CMD_LINE_PTR = 0x228;
    /** The kernel's own limit for the command line (read-only for us); absent (0) in headers before 2.06. */
    static final int CMDLINE_SIZE = 0x238;
    static final int E820_TABLE = 0x2d0;
    static final int E820_MAX = 128;
    static final int E820_ENTRY = 20;

    static final int LOADED_HIGH = 1;
    static final int CAN_USE_HEAP = 0x80;
    /** "Undefined" boot loader id: we are not one of the registered loaders. */
    static final int LOADER_UNDEFINED = 0xff;

    public enum E820Type {
        RAM(1), RESERVED(2);

        final int code;

        E820Type(int code) {
            this.code = code;
        }
    }

    public record E820Entry(long address, long size, E820Type type) {
    }

    private ZeroPage() {
    }

    /**
     * Writes the zero page into {@code page} (4 KiB of guest memory): {@code setupHeader} from a bzImage, or null to
     * make the minimal header a vmlinux boot needs; the command line at guest-physical {@code cmdline} of
     * {@code cmdlineLength} bytes (without its NUL; checked against the header's limit); the initramfs at {@code initrd} ({@code initrdSize} bytes, 0 for
     * none); the memory map.
     */
    public static void write(MemorySegment page, byte[] setupHeader, long cmdline, int cmdlineLength, long initrd,
            long initrdSize, List<E820Entry> e820) {
        if (e820.isEmpty() || e820.size() > E820_MAX) {
            throw new IllegalArgumentException("an e820 map has 1.." + E820_MAX + " entries, got " + e820.size());
        }
        page.asSlice(0, SIZE).fill((byte) 0);
        if (setupHeader != null) {
            MemorySegment.copy(setupHeader, 0, page, ValueLayout.JAVA_BYTE, SETUP_HEADER, setupHeader.length);
        } else {
            page.set(ValueLayout.JAVA_SHORT_UNALIGNED, BOOT_FLAG, (short) 0xaa55);
            page.set(ValueLayout.JAVA_INT_UNALIGNED, HEADER, BzImageLoader.HDRS_MAGIC);
            page.set(ValueLayout.JAVA_SHORT_UNALIGNED, VERSION, (short) 0x020f);
        }
        int limit = page.get(ValueLayout.JAVA_INT_UNALIGNED, CMDLINE_SIZE);
        if (limit > 0 && cmdlineLength > limit) {
            throw new IllegalArgumentException("the command line is " + cmdlineLength + " bytes; this kernel takes "
                    + limit);
        }
        page.set(ValueLayout.JAVA_BYTE, TYPE_OF_LOADER, (byte) LOADER_UNDEFINED);
        int flags = Byte.toUnsignedInt(page.get(ValueLayout.JAVA_BYTE, LOADFLAGS));
        page.set(ValueLayout.JAVA_BYTE, LOADFLAGS, (byte) (flags | LOADED_HIGH | CAN_USE_HEAP));
        page.set(ValueLayout.JAVA_SHORT_UNALIGNED, HEAP_END_PTR, (short) 0xfe00);
        page.set(ValueLayout.JAVA_INT_UNALIGNED, CMD_LINE_PTR, (int) cmdline);
        page.set(ValueLayout.JAVA_INT_UNALIGNED, EXT_CMD_LINE_PTR, (int) (cmdline >>> 32));
        page.set(ValueLayout.JAVA_INT_UNALIGNED, RAMDISK_IMAGE, (int) initrd);
        page.set(ValueLayout.JAVA_INT_UNALIGNED, EXT_RAMDISK_IMAGE, (int) (initrd >>> 32));
        page.set(ValueLayout.JAVA_INT_UNALIGNED, RAMDISK_SIZE, (int) initrdSize);
        page.set(ValueLayout.JAVA_INT_UNALIGNED, EXT_RAMDISK_SIZE, (int) (initrdSize >>> 32));
        page.set(ValueLayout.JAVA_BYTE, E820_ENTRIES, (byte) e820.size());
        for (int i = 0; i < e820.size(); i++) {
            E820Entry e = e820.get(i);
            long at = E820_TABLE + (long) i * E820_ENTRY;
            page.set(ValueLayout.JAVA_LONG_UNALIGNED, at, e.address());
            page.set(ValueLayout.JAVA_LONG_UNALIGNED, at + 8, e.size());
            page.set(ValueLayout.JAVA_INT_UNALIGNED, at + 16, e.type().code);
        }
    }
}
