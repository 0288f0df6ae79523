package io.sandboxd.vmm.devices.virtio.blk;

import io.sandboxd.block.BlockDevice;
import io.sandboxd.block.ReadSink;
import io.sandboxd.vmm.devices.virtio.DescriptorChain;
import io.sandboxd.vmm.devices.virtio.RingException;
import io.sandboxd.vmm.devices.virtio.VirtioBackend;
import io.sandboxd.vmm.devices.virtio.VirtioConstants;
import io.sandboxd.vmm.devices.virtio.Virtqueue;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * virtio-blk over a {@link BlockDevice} (in the VMM, a copy-on-write overlay over the template's layered image).
 * One request queue. Requests: IN, OUT, FLUSH, GET_ID, DISCARD and WRITE_ZEROES; anything out of range, misaligned,
 * or a write to a read-only disk fails with IOERR without touching the disk; an unknown type gets UNSUPP.
 *
 * <p>Data moves between guest memory and the disk in place: reads are copied from the layer files' read-only
 * mappings straight into the guest's buffers, writes hand the disk ByteBuffer views of guest memory.
 */
public final class VirtioBlock implements VirtioBackend {
    public static final int DEVICE_ID = 2;
    public static final int SECTOR = 512;
    static final int QUEUE_SIZE = 256;
    static final int SEG_MAX = 128;
    static final long F_SIZE_MAX = 1L << 1;
    static final long F_SEG_MAX = 1L << 2;
    static final long F_RO = 1L << 5;
    static final long F_BLK_SIZE = 1L << 6;
    static final long F_FLUSH = 1L << 9;
    static final long F_DISCARD = 1L << 13;
    static final long F_WRITE_ZEROES = 1L << 14;
    static final int T_IN = 0;
    static final int T_OUT = 1;
    static final int T_FLUSH = 4;
    static final int T_GET_ID = 8;
    static final int T_DISCARD = 11;
    static final int T_WRITE_ZEROES = 13;
    static final int S_OK = 0;
    static final int S_IOERR = 1;
    static final int S_UNSUPP = 2;
    static final int HEADER = 16;
    static final int ID_BYTES = 20;
    static final int CONFIG_SIZE = 60;
    /** One discard/write-zeroes segment: sector u64, num_sectors u32, flags u32. */
    static final int SEGMENT = 16;
    static final int MAX_DISCARD_SECTORS = 1 << 22;
    private static final System.Logger LOG = System.getLogger(VirtioBlock.class.getName());

    private final BlockDevice disk;
    private final String serial;
    private final MemorySegment config;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment header = arena.allocate(HEADER);
    private final MemorySegment status = arena.allocate(1);
    private long requests;
    private long errors;

    /** {@code serial}: what GET_ID answers (up to 20 bytes, e.g. the sandbox id). */
    public VirtioBlock(BlockDevice disk, String serial) {
        this.disk = disk;
        this.serial = serial;
        this.config = arena.allocate(CONFIG_SIZE);
        config.set(ValueLayout.JAVA_LONG_UNALIGNED, 0, disk.size() / SECTOR); // capacity
        config.set(ValueLayout.JAVA_INT_UNALIGNED, 8, 1 << 20); // size_max
        config.set(ValueLayout.JAVA_INT_UNALIGNED, 12, SEG_MAX);
        config.set(ValueLayout.JAVA_INT_UNALIGNED, 20, 4096); // blk_size
        config.set(ValueLayout.JAVA_INT_UNALIGNED, 36, MAX_DISCARD_SECTORS); // max_discard_sectors
        config.set(ValueLayout.JAVA_INT_UNALIGNED, 40, 1); // max_discard_seg
        config.set(ValueLayout.JAVA_INT_UNALIGNED, 44, 4096 / SECTOR); // discard_sector_alignment
        config.set(ValueLayout.JAVA_INT_UNALIGNED, 48, MAX_DISCARD_SECTORS); // max_write_zeroes_sectors
        config.set(ValueLayout.JAVA_INT_UNALIGNED, 52, 1); // max_write_zeroes_seg
        config.set(ValueLayout.JAVA_BYTE, 56, (byte) 1); // write_zeroes_may_unmap
    }

    @Override
    public int deviceId() {
        return DEVICE_ID;
    }

    @Override
    public String kind() {
        return "virtio-blk";
    }

    @Override
    public long features() {
        long f = F_SIZE_MAX | F_SEG_MAX | F_BLK_SIZE | F_FLUSH | VirtioConstants.F_RING_EVENT_IDX
                | VirtioConstants.F_RING_INDIRECT_DESC;
        return disk.readOnly() ? f | F_RO : f | F_DISCARD | F_WRITE_ZEROES;
    }

    @Override
    public int[] queueSizes() {
        return new int[] {QUEUE_SIZE};
    }

    @Override
    public MemorySegment config() {
        return config;
    }

    /** Requests served and failed since the device was made (for tests and stats). */
    public synchronized long[] counters() {
        return new long[] {requests, errors};
    }

    @Override
    public void serve(List<Virtqueue> queues, UsedNotifier used) throws RingException {
        Virtqueue q = queues.get(0);
        while (true) {
            while (q.pending() > 0) {
                DescriptorChain chain = q.pop();
                q.pushUsed(chain.head(), handle(chain));
            }
            used.used(q);
            q.armNotification();
            if (q.pending() == 0) {
                return;
            }
        }
    }

    /** Serves one request; returns the bytes written into the chain (data + status). */
    private long handle(DescriptorChain chain) {
        synchronized (this) {
            requests++;
        }
        if (chain.error() != null) {
            return fail(chain, "malformed request: " + chain.error());
        }
        if (chain.readableLength() < HEADER || chain.writableLength() < 1) {
            return fail(chain, "request without a header or a status byte");
        }
        chain.read(0, header);
        int type = header.get(ValueLayout.JAVA_INT_UNALIGNED, 0);
        long sector = header.get(ValueLayout.JAVA_LONG_UNALIGNED, 8);
        long dataOut = chain.readableLength() - HEADER; // for OUT, discard, write zeroes
        long dataIn = chain.writableLength() - 1; // for IN, GET_ID
        try {
            return switch (type) {
                case T_IN -> read(chain, sector, dataIn);
                case T_OUT -> write(chain, sector, dataOut);
                case T_FLUSH -> {
                    disk.flush();
                    yield finish(chain, 0, S_OK);
                }
                case T_GET_ID -> {
                    byte[] id = new byte[ID_BYTES];
                    byte[] s = serial.getBytes(StandardCharsets.US_ASCII);
                    System.arraycopy(s, 0, id, 0, Math.min(s.length, ID_BYTES));
                    long n = Math.min(ID_BYTES, dataIn);
                    chain.write(0, MemorySegment.ofArray(id).asSlice(0, n));
                    yield finish(chain, n, S_OK);
                }
                case T_DISCARD, T_WRITE_ZEROES -> zero(chain, type, dataOut);
                default -> finish(chain, 0, S_UNSUPP);
            };
        } catch (IOException | RuntimeException e) {
            return fail(chain, "request type " + type + " at sector " + sector + ": " + e);
        }
    }

    private long read(DescriptorChain chain, long sector, long length) throws IOException {
        if (!inRange(sector, length)) {
            return fail(chain, "read of " + length + " bytes at sector " + sector + " is outside the disk");
        }
        long offset = sector * SECTOR;
        List<MemorySegment> targets = chain.slices(true, 0, length);
        disk.read(offset, length, new GuestSink(targets));
        return finish(chain, length, S_OK);
    }

    private long write(DescriptorChain chain, long sector, long length) throws IOException {
        if (disk.readOnly()) {
            return fail(chain, "write to a read-only disk");
        }
        if (!inRange(sector, length)) {
            return fail(chain, "write of " + length + " bytes at sector " + sector + " is outside the disk");
        }
        long offset = sector * SECTOR;
        for (MemorySegment s : chain.slices(false, HEADER, length)) {
            disk.write(offset, s.asByteBuffer());
            offset += s.byteSize();
        }
        return finish(chain, 0, S_OK);
    }

    private long zero(DescriptorChain chain, int type, long length) throws IOException {
        if (disk.readOnly()) {
            return fail(chain, "discard on a read-only disk");
        }
        if (length != SEGMENT) {
            return fail(chain, "discard / write-zeroes with " + length + " bytes of segments (one is supported)");
        }
        MemorySegment seg = arena.allocate(SEGMENT);
        chain.read(HEADER, seg);
        long sector = seg.get(ValueLayout.JAVA_LONG_UNALIGNED, 0);
        long sectors = Integer.toUnsignedLong(seg.get(ValueLayout.JAVA_INT_UNALIGNED, 8));
        int flags = seg.get(ValueLayout.JAVA_INT_UNALIGNED, 12);
        if (sectors > MAX_DISCARD_SECTORS || !inRange(sector, sectors * SECTOR)) {
            return fail(chain, "discard of " + sectors + " sectors at " + sector + " is outside the disk");
        }
        if (type == T_DISCARD) {
            disk.trim(sector * SECTOR, sectors * SECTOR);
        } else {
            disk.writeZeroes(sector * SECTOR, sectors * SECTOR, (flags & 1) != 0);
        }
        return finish(chain, 0, S_OK);
    }

    private boolean inRange(long sector, long length) {
        return length % SECTOR == 0 && sector >= 0 && sector <= Long.MAX_VALUE / SECTOR
                && BlockDevice.inBounds(sector * SECTOR, length, disk.size());
    }

    private long finish(DescriptorChain chain, long dataWritten, int code) {
        status.set(ValueLayout.JAVA_BYTE, 0, (byte) code);
        chain.write(chain.writableLength() - 1, status);
        return dataWritten + 1;
    }

    /** Reports an error status in the chain's last writable byte, if it has one. */
    private long fail(DescriptorChain chain, String why) {
        synchronized (this) {
            errors++;
        }
        LOG.log(System.Logger.Level.DEBUG, () -> "virtio-blk: " + why);
        if (chain.writableLength() < 1) {
            return 0;
        }
        return finish(chain, 0, S_IOERR);
    }

    @Override
    public void close() {
        try {
            disk.close();
        } catch (IOException e) {
            LOG.log(System.Logger.Level.WARNING, "virtio-blk: closing the disk failed: " + e);
        } finally {
            arena.close();
        }
    }

    /** Copies the pieces of a disk read into the guest's buffers, in order. */
    private static final class GuestSink implements ReadSink {
        private final List<MemorySegment> targets;
        private int index;
        private long offsetInTarget;

        GuestSink(List<MemorySegment> targets) {
            this.targets = targets;
        }

        @Override
        public void file(FileChannel file, MemorySegment mapping, long position, long length) throws IOException {
            long done = 0;
            while (done < length) {
                MemorySegment t = targets.get(index);
                long n = Math.min(length - done, t.byteSize() - offsetInTarget);
                MemorySegment dst = t.asSlice(offsetInTarget, n);
                long pos = position + done;
                if (mapping.byteSize() > 0) {
                    long inFile = Math.max(0, Math.min(n, mapping.byteSize() - pos));
                    if (inFile > 0) {
                        MemorySegment.copy(mapping, pos, dst, 0, inFile);
                    }
                    if (inFile < n) {
                        dst.asSlice(inFile).fill((byte) 0);
                    }
                } else {
                    ByteBuffer b = dst.asByteBuffer();
                    while (b.hasRemaining()) {
                        int r = file.read(b, pos + b.position());
                        if (r < 0) {
                            dst.asSlice(b.position()).fill((byte) 0); // past the end of the file: zeros
                            break;
                        }
                    }
                }
                advance(n);
                done += n;
            }
        }

        @Override
        public void zeros(long length) {
            long done = 0;
            while (done < length) {
                MemorySegment t = targets.get(index);
                long n = Math.min(length - done, t.byteSize() - offsetInTarget);
                t.asSlice(offsetInTarget, n).fill((byte) 0);
                advance(n);
                done += n;
            }
        }

        private void advance(long n) {
            offsetInTarget += n;
            if (offsetInTarget == targets.get(index).byteSize()) {
                index++;
                offsetInTarget = 0;
            }
        }
    }
}
