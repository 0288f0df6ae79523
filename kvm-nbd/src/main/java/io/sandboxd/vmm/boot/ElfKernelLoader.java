package io.sandboxd.vmm.boot;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Loads an uncompressed x86-64 Linux {@code vmlinux} (ELF64): every PT_LOAD segment is copied to its physical
 * address ({@code p_paddr}) and its tail up to {@code p_memsz} zeroed; the entry is {@code e_entry}, which for
 * vmlinux is the physical address of {@code startup_64} (the linker script's {@code phys_startup_64}). Everything
 * read from the file is checked against the file and the guest memory before it is used.
 */
public final class ElfKernelLoader {
    static final int EM_X86_64 = 62;
    static final int PT_LOAD = 1;
    private static final int MAX_PHDRS = 64;
    /** Below 1 MiB live the zero page, command line, GDT and page tables we write; a kernel never loads there. */
    static final long LOWEST_LOAD = 1L << 20;

    private ElfKernelLoader() {
    }

    public static boolean isElf(ByteBuffer head) {
        return head.remaining() >= 4 && head.get(0) == 0x7f && head.get(1) == 'E' && head.get(2) == 'L' && head.get(3) == 'F';
    }

    /** Loads {@code file} into {@code ram} (the host view of guest-physical 0..ram.byteSize()). */
    public static LoadedKernel load(Path file, MemorySegment ram) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long fileSize = ch.size();
            ByteBuffer eh = read(ch, 0, 64, file);
            if (!isElf(eh)) {
                throw new BootImageException(file + " is not an ELF file");
            }
            if (eh.get(4) != 2 || eh.get(5) != 1) {
                throw new BootImageException(file + " is not a little-endian ELF64 file");
            }
            int type = Short.toUnsignedInt(eh.getShort(16));
            int machine = Short.toUnsignedInt(eh.getShort(18));
            if (machine != EM_X86_64 || type != 2) {
                throw new BootImageException(file + " is not an x86-64 executable (e_type " + type + ", e_machine "
                        + machine + ")");
            }
            long entry = eh.getLong(24);
            long phoff = eh.getLong(32);
            int phentsize = Short.toUnsignedInt(eh.getShort(54));
            int phnum = Short.toUnsignedInt(eh.getShort(56));
            if (phentsize < 56 || phnum == 0 || phnum > MAX_PHDRS || phoff < 0
                    || phoff + (long) phentsize * phnum > fileSize) {
                throw new BootImageException(file + ": bad program header table (" + phnum + " x " + phentsize
                        + " bytes at " + phoff + ")");
            }
            long lowest = Long.MAX_VALUE;
            long highest = 0;
            boolean entryLoaded = false;
            for (int i = 0; i < phnum; i++) {
                ByteBuffer ph = read(ch, phoff + (long) i * phentsize, 56, file);
                if (ph.getInt(0) != PT_LOAD) {
                    continue;
                }
                long offset = ph.getLong(8);
                long paddr = ph.getLong(24);
                long filesz = ph.getLong(32);
                long memsz = ph.getLong(40);
                if (offset < 0 || filesz < 0 || memsz < filesz || offset > fileSize - filesz) {
                    throw new BootImageException(file + ": segment " + i + " lies outside the file");
                }
                if (paddr < LOWEST_LOAD || paddr > ram.byteSize() || memsz > ram.byteSize() - paddr) {
                    throw new BootImageException(file + ": segment " + i + " at 0x" + Long.toHexString(paddr) + " ("
                            + memsz + " bytes) does not fit in " + (ram.byteSize() >> 20) + " MiB of guest memory");
                }
                copy(ch, offset, ram.asSlice(paddr, filesz), file);
                ram.asSlice(paddr + filesz, memsz - filesz).fill((byte) 0);
                lowest = Math.min(lowest, paddr);
                highest = Math.max(highest, paddr + memsz);
                entryLoaded |= entry >= paddr && entry < paddr + memsz;
            }
            if (highest == 0) {
                throw new BootImageException(file + " has no loadable segment");
            }
            if (!entryLoaded) {
                throw new BootImageException(file + ": entry point 0x" + Long.toHexString(entry)
                        + " is not in a loaded segment (not a vmlinux with a physical entry?)");
            }
            return new LoadedKernel(entry, lowest, highest, null, 0x7fff_ffffL);
        }
    }

    static ByteBuffer read(FileChannel ch, long position, int length, Path file) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(length).order(ByteOrder.LITTLE_ENDIAN);
        while (b.hasRemaining()) {
            if (ch.read(b, position + b.position()) < 0) {
                throw new BootImageException(file + " ends at " + (position + b.position()) + ", inside a header");
            }
        }
        return b.flip();
    }

    static void copy(FileChannel ch, long position, MemorySegment dst, Path file) throws IOException {
        ByteBuffer b = dst.asByteBuffer();
        while (b.hasRemaining()) {
            if (ch.read(b, position + b.position()) < 0) {
                throw new BootImageException(file + " ends early, at " + (position + b.position()));
            }
        }
    }
}
