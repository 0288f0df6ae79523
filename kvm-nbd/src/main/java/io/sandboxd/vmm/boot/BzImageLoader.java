package io.sandboxd.vmm.boot;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;

/**
 * Loads a bzImage for the 64-bit boot protocol (boot protocol 2.12+, {@code XLF_KERNEL_64}): the protected-mode
 * part (everything after the real-mode setup sectors) goes to the kernel's preferred address, and the entry is
 * 0x200 past it. The setup header is kept for the zero page. The kernel then decompresses itself, which under an
 * instruction emulator is a large share of the boot: an ELF vmlinux boots faster.
 */
public final class BzImageLoader {
    static final int SETUP_HEADER = 0x1f1;
    static final int HDRS_MAGIC = 0x5372_6448; // "HdrS"
    static final int MIN_VERSION = 0x020c;
    static final int XLF_KERNEL_64 = 1;
    static final long ENTRY_64_OFFSET = 0x200;
    static final long DEFAULT_LOAD = 1L << 24;

    private BzImageLoader() {
    }

    public static boolean isBzImage(ByteBuffer head) {
        return head.remaining() >= 0x206 && Short.toUnsignedInt(head.getShort(0x1fe)) == 0xaa55
                && head.getInt(0x202) == HDRS_MAGIC;
    }

    public static LoadedKernel load(Path file, MemorySegment ram) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long fileSize = ch.size();
            if (fileSize < 0x1000) {
                throw new BootImageException(file + " is too small for a bzImage (" + fileSize + " bytes)");
            }
            ByteBuffer h = ElfKernelLoader.read(ch, 0, 0x1000, file);
            if (!isBzImage(h)) {
                throw new BootImageException(file + " is not a bzImage (no boot flag 0xaa55 / \"HdrS\" header)");
            }
            int version = Short.toUnsignedInt(h.getShort(0x206));
            int xloadflags = Short.toUnsignedInt(h.getShort(0x236));
            if (version < MIN_VERSION || (xloadflags & XLF_KERNEL_64) == 0) {
                throw new BootImageException(file + ": boot protocol 0x" + Integer.toHexString(version)
                        + " without a 64-bit entry (needs 2.12+ with XLF_KERNEL_64)");
            }
            int setupSects = Byte.toUnsignedInt(h.get(SETUP_HEADER));
            long kernelOffset = (long) ((setupSects == 0 ? 4 : setupSects) + 1) * 512;
            int headerEnd = 0x202 + Byte.toUnsignedInt(h.get(0x201));
            if (kernelOffset >= fileSize || headerEnd > 0x1000) {
                throw new BootImageException(file + ": setup of " + setupSects + " sectors leaves no kernel");
            }
            long pref = h.getLong(0x258);
            long load = pref >= ElfKernelLoader.LOWEST_LOAD ? pref : DEFAULT_LOAD;
            long payload = fileSize - kernelOffset;
            long initSize = Integer.toUnsignedLong(h.getInt(0x260));
            long end = load + Math.max(payload, initSize);
            if (end > ram.byteSize()) {
                throw new BootImageException(file + ": the kernel needs guest memory up to 0x" + Long.toHexString(end)
                        + ", there is " + (ram.byteSize() >> 20) + " MiB");
            }
            ElfKernelLoader.copy(ch, kernelOffset, ram.asSlice(load, payload), file);
            byte[] header = new byte[headerEnd - SETUP_HEADER];
            h.get(SETUP_HEADER, header);
            long initrdMax = Integer.toUnsignedLong(h.getInt(0x22c));
            return new LoadedKernel(load + ENTRY_64_OFFSET, load, end, Arrays.copyOf(header, header.length),
                    initrdMax == 0 ? 0x37ff_ffffL : initrdMax);
        }
    }
}
