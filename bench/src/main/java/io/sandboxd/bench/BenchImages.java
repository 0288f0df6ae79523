package io.sandboxd.bench;

import io.sandboxd.ffi.Libc;
import io.sandboxd.layer.LayerFormatException;
import io.sandboxd.vmm.snapshot.LayerWriter;
import io.sandboxd.vmm.snapshot.MemoryImage;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Memory images for the benchmarks, made once per size under {@code /tmp/sandboxd-bench} and reused: like
 * floor.c's file, one page in 16 holds data (so the file is not all holes), plus a tiny real-mode program at
 * {@link #ENTRY} that writes to port {@link #DONE_PORT}, the restored guest's first instruction.
 */
final class BenchImages {
    static final Path ROOT = Path.of(System.getProperty("sandboxd.bench.dir", "/tmp/sandboxd-bench"));
    static final int PAGE = 4096;
    static final int ENTRY = 0x1000;
    static final int DONE_PORT = 0x10;
    /** {@code out 0x10, al; hlt}. */
    private static final byte[] PROGRAM = {(byte) 0xe6, DONE_PORT, (byte) 0xf4};

    private BenchImages() {
    }

    /** The restore image of {@code mib} MiB (made on first use). */
    static MemoryImage restoreImage(int mib) throws IOException {
        return cached(ROOT.resolve("restore-" + mib + "MiB"), (long) mib << 20, 16);
    }

    /** An image of {@code mib} MiB in which every page holds data (every fault is a copy). */
    static MemoryImage denseImage(int mib) throws IOException {
        return cached(ROOT.resolve("dense-" + mib + "MiB"), (long) mib << 20, 1);
    }

    private static MemoryImage cached(Path dir, long size, int everyNthPage) throws IOException {
        Path marker = dir.resolve("image");
        if (Files.exists(marker)) {
            try {
                return MemoryImage.open(dir.resolve(Files.readString(marker).trim()));
            } catch (LayerFormatException e) { // made by an older build in an older format: make it again
                System.err.println("bench: remaking " + dir + ": " + e.getMessage());
            }
        }
        if (Files.exists(dir)) {
            try (var files = Files.list(dir)) { // a half-made or outdated image
                for (Path p : (Iterable<Path>) files::iterator) {
                    Files.delete(p);
                }
            }
        }
        MemorySegment mem = Libc.mmap(MemorySegment.NULL, size, Libc.PROT_READ | Libc.PROT_WRITE,
                Libc.MAP_PRIVATE | Libc.MAP_ANONYMOUS | Libc.MAP_NORESERVE, -1, 0);
        try {
            for (long off = 0; off < size; off += (long) PAGE * everyNthPage) {
                mem.asSlice(off, PAGE).fill((byte) ((off >>> 12) | 1));
            }
            MemorySegment.copy(PROGRAM, 0, mem, ValueLayout.JAVA_BYTE, ENTRY, PROGRAM.length);
            MemoryImage image = LayerWriter.writeBase(dir, mem, PAGE);
            Files.writeString(marker, image.headerPath().getFileName().toString());
            return image;
        } finally {
            Libc.munmap(mem);
        }
    }
}
