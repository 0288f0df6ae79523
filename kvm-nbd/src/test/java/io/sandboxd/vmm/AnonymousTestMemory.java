package io.sandboxd.vmm;

import io.sandboxd.ffi.Libc;
import io.sandboxd.vmm.snapshot.MemoryImage;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Test guest memory: one anonymous mapping at guest-physical 0 with KVM dirty logging, optionally filled from a
 * memory image (the simplest possible eager backend, so the restore API can be tested on its own; the product
 * backends are in io.sandboxd.vmm.memory).
 */
final class AnonymousTestMemory implements GuestMemory {
    final MemorySegment host;
    private boolean closed;

    AnonymousTestMemory(long size) {
        host = Libc.mmap(MemorySegment.NULL, size, Libc.PROT_READ | Libc.PROT_WRITE,
                Libc.MAP_PRIVATE | Libc.MAP_ANONYMOUS | Libc.MAP_NORESERVE, -1, 0);
    }

    /** A backend copying the whole image into fresh anonymous memory. */
    static final MemoryBackend EAGER_COPY = (image, onFailure) -> {
        AnonymousTestMemory m = new AnonymousTestMemory(image.size());
        try {
            m.fill(image);
        } catch (IOException | RuntimeException e) {
            m.close();
            throw e;
        }
        return m;
    };

    private void fill(MemoryImage image) throws IOException {
        Map<Path, FileChannel> files = new HashMap<>();
        try {
            long off = 0;
            while (off < image.size()) {
                MemoryImage.Location at = image.resolve(off);
                long len = Math.min(at.length(), image.size() - off);
                if (!at.isZero()) {
                    FileChannel ch = files.computeIfAbsent(at.file(), f -> {
                        try {
                            return FileChannel.open(f, StandardOpenOption.READ);
                        } catch (IOException e) {
                            throw new java.io.UncheckedIOException(e);
                        }
                    });
                    ByteBuffer dst = host.asSlice(off, len).asByteBuffer();
                    long pos = at.offsetInFile();
                    while (dst.hasRemaining()) {
                        int n = ch.read(dst, pos + (len - dst.remaining()));
                        if (n < 0) {
                            throw new IOException(at.file() + " ends early");
                        }
                    }
                }
                off += len;
            }
        } finally {
            for (FileChannel ch : files.values()) {
                ch.close();
            }
        }
    }

    @Override
    public List<GuestRegion> regions() {
        return List.of(new GuestRegion(0, host, 0, true));
    }

    @Override
    public MemorySegment host() {
        return host;
    }

    @Override
    public MemoryImage snapshot(MemoryImage parent, java.util.BitSet kvmDirty) throws IOException {
        return io.sandboxd.vmm.snapshot.LayerWriter.writeDiff(parent, host, kvmDirty);
    }

    @Override
    public String toString() {
        return "AnonymousTestMemory[" + (host.byteSize() >> 20) + " MiB]";
    }

    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            Libc.munmap(host);
        }
    }
}
