package io.sandboxd.vmm.devices.virtio.blk;

import io.sandboxd.block.BlockDevice;
import io.sandboxd.block.ReadSink;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/** A disk in a temporary file, served through the ReadSink file path (as the layer files are). */
final class MemoryDisk implements BlockDevice {
    final Path file;
    final FileChannel ch;
    final long size;
    final boolean readOnly;
    int flushes;

    MemoryDisk(long size, boolean readOnly) throws IOException {
        this.file = Files.createTempFile("sandboxd-vblk", ".img");
        this.ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE);
        ch.truncate(size);
        this.size = size;
        this.readOnly = readOnly;
    }

    byte[] bytes(long offset, int n) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(n);
        ch.read(b, offset);
        return b.array();
    }

    public long size() {
        return size;
    }

    public boolean readOnly() {
        return readOnly;
    }

    public void read(long offset, long length, ReadSink sink) throws IOException {
        BlockDevice.checkBounds(offset, length, size);
        sink.file(ch, java.lang.foreign.MemorySegment.NULL, offset, length);
    }

    public void write(long offset, ByteBuffer src) throws IOException {
        BlockDevice.checkBounds(offset, src.remaining(), size);
        while (src.hasRemaining()) {
            offset += ch.write(src, offset);
        }
    }

    public void writeZeroes(long offset, long length, boolean mayPunch) throws IOException {
        write(offset, ByteBuffer.allocate((int) length));
    }

    public void trim(long offset, long length) throws IOException {
        writeZeroes(offset, length, true);
    }

    public void flush() {
        flushes++;
    }

    public void close() throws IOException {
        ch.close();
        Files.deleteIfExists(file);
    }
}
