package io.sandboxd.block.cow;

import io.sandboxd.block.BlockDevice;
import io.sandboxd.block.FileMapping;
import io.sandboxd.block.ReadSink;
import io.sandboxd.block.Zeros;
import io.sandboxd.block.layer.LayeredImage;
import io.sandboxd.ffi.Libc;
import io.sandboxd.layer.Extent;
import io.sandboxd.layer.LayerFormatException;
import io.sandboxd.layer.LayerHeader;
import io.sandboxd.layer.LayerHeaderCodec;
import io.sandboxd.layer.LayerIds;
import io.sandboxd.layer.LayerKind;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A copy-on-write overlay over a read-only {@link LayeredImage}: a sparse data file the size of the image (block
 * {@code k} at offset {@code k * 4096}) plus a block bitmap ({@link BlockStates} in memory, {@link OverlayMap} on
 * disk in {@code <overlay>.map}).
 *
 * <ul>
 *   <li>Reads of {@code BASE} blocks fall through to the base, {@code DATA} blocks come from the data file,
 *       {@code ZERO} blocks are zeros without touching any file.</li>
 *   <li>Full-block writes go straight to the data file; all-zero blocks are punched out instead and marked
 *       {@code ZERO}, so the base is not read through any more. Partial-block writes to a block not yet in the
 *       overlay copy the old block in first (read-modify-write under a per-block stripe lock, so two connections
 *       writing different halves of one block both survive).</li>
 *   <li>{@link #seal(Path)} turns the overlay into a new disk layer: a header in the one layer format (the one memory
 *       snapshots use, {@link LayerHeader}) whose extents point at this data file for {@code DATA} blocks, at zeros
 *       for {@code ZERO} blocks and at the base's extents elsewhere, chained to the base by its parent layer id.</li>
 * </ul>
 *
 * <p>Thread-safe: several NBD connections share one overlay (the server advertises multi-conn).
 */
public final class Overlay implements BlockDevice {
    public static final int BLOCK_SIZE = 4096;
    private static final int SHIFT = 12;
    private static final int STRIPES = 1024;
    /**
     * Data-file writes are issued in pieces of at most this size. Linux 6.x ext4 sizes a new page-cache folio by the
     * write that creates it, and a later 4 KiB write into a 1 MiB folio walks all of its buffer heads
     * ({@code ext4_block_write_begin} was 65% of the server's CPU in random 4 KiB writes after a 1 MiB write pass,
     * half of nbdkit's throughput); 128 KiB folios keep that walk short at 8 syscalls per MiB (64 KiB pieces cost 1 MiB
     * sequential writes 15% against nbdkit; random writes measured alike with 64 and 256 KiB).
     */
    private static final long WRITE_CHUNK = 128 << 10;

    private final Path dataPath;
    private final LayeredImage base;
    private final FileChannel data;
    /** The same file opened through libc, for fallocate (FileChannel has no hole punching). */
    private final int dataFd;
    /** The data file mapped read-only (see {@link FileMapping}): reads of DATA blocks copy or send from it. */
    private final Arena arena = Arena.ofShared();
    private final MemorySegment dataMap;
    private final OverlayMap map;
    private final BlockStates states;
    private final long size;
    private final Object[] stripes = new Object[STRIPES];
    private final ReentrantLock flushLock = new ReentrantLock();
    /** Bumped after every completed change; a flush with nothing new since the last one skips the syncs. */
    private final AtomicLong changes = new AtomicLong();
    private long flushedChanges;
    private volatile boolean sealed;

    private Overlay(Path dataPath, LayeredImage base, FileChannel data, int dataFd, OverlayMap map,
            BlockStates states) {
        this.dataPath = dataPath;
        this.base = base;
        this.data = data;
        this.dataFd = dataFd;
        this.dataMap = FileMapping.readOnly(dataPath, base.size(), arena);
        this.map = map;
        this.states = states;
        this.size = base.size();
        for (int i = 0; i < STRIPES; i++) {
            stripes[i] = new Object();
        }
    }

    public static Path mapPath(Path overlay) {
        return overlay.resolveSibling(overlay.getFileName() + ".map");
    }

    /** Creates a new, empty overlay ({@code overlay} and {@code overlay.map} must not exist) over {@code base}. */
    public static Overlay create(Path overlay, LayeredImage base) throws IOException {
        long size = base.size();
        if (size % BLOCK_SIZE != 0) {
            throw new IllegalArgumentException("image size " + size + " is not a multiple of " + BLOCK_SIZE
                    + " bytes; an overlay needs whole blocks");
        }
        if (base.header().blockSize() != BLOCK_SIZE) {
            throw new IllegalArgumentException("base block size " + base.header().blockSize() + ", overlay needs "
                    + BLOCK_SIZE);
        }
        BlockStates states = new BlockStates(size >>> SHIFT);
        OverlayMap.Identity id = new OverlayMap.Identity(BLOCK_SIZE, size, base.header().layerId(),
                base.header().generation(), UUID.randomUUID());
        // ftruncate extends the file without allocating: the overlay starts as one big hole.
        int fd = Libc.open(overlay.toString(), Libc.O_RDWR | Libc.O_CREAT | Libc.O_EXCL | Libc.O_CLOEXEC, 0644);
        try {
            try {
                Libc.ftruncate(fd, size);
            } finally {
                Libc.close(fd);
            }
            try (FileChannel ch = FileChannel.open(overlay, StandardOpenOption.WRITE)) {
                ch.force(true);
            }
            OverlayMap m = OverlayMap.create(mapPath(overlay), id, states.pages());
            LayerHeaderCodec.syncDirectory(overlay.toAbsolutePath().getParent());
            return openWith(overlay, base, m, states);
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(overlay);
            Files.deleteIfExists(mapPath(overlay));
            throw e;
        }
    }

    /** Reopens an overlay (after a restart or a crash) over the base it was created on. */
    public static Overlay open(Path overlay, LayeredImage base) throws IOException {
        BlockStates states = new BlockStates(base.size() >>> SHIFT);
        OverlayMap m = OverlayMap.open(mapPath(overlay), states);
        try {
            OverlayMap.Identity id = m.identity();
            if (id.blockSize() != BLOCK_SIZE || id.size() != base.size()) {
                throw new LayerFormatException(mapPath(overlay), "made for a " + id.size() + "-byte image with "
                        + id.blockSize() + "-byte blocks, base is " + base.size() + " bytes");
            }
            if (id.baseLayerId() != base.header().layerId() || id.baseGeneration() != base.header().generation()) {
                throw new LayerFormatException(mapPath(overlay), "made over base layer "
                        + LayerIds.hex(id.baseLayerId()) + " generation " + id.baseGeneration() + ", not over "
                        + base.location() + " (layer " + LayerIds.hex(base.header().layerId()) + " generation "
                        + base.header().generation() + ")");
            }
            if (Files.size(overlay) != base.size()) {
                throw new LayerFormatException(overlay, "data file is " + Files.size(overlay) + " bytes, expected "
                        + base.size());
            }
            m.load(states);
            return openWith(overlay, base, m, states);
        } catch (IOException | RuntimeException e) {
            m.close();
            throw e;
        }
    }

    private static Overlay openWith(Path overlay, LayeredImage base, OverlayMap m, BlockStates states)
            throws IOException {
        FileChannel ch = null;
        int fd = -1;
        try {
            ch = FileChannel.open(overlay, StandardOpenOption.READ, StandardOpenOption.WRITE);
            fd = Libc.open(overlay.toString(), Libc.O_RDWR | Libc.O_CLOEXEC);
            return new Overlay(overlay, base, ch, fd, m, states);
        } catch (IOException | RuntimeException e) {
            if (ch != null) {
                ch.close();
            }
            if (fd >= 0) {
                Libc.close(fd);
            }
            m.close();
            throw e;
        }
    }

    public Path dataPath() {
        return dataPath;
    }

    public LayeredImage base() {
        return base;
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public boolean readOnly() {
        return sealed;
    }

    /** The state of block {@code block}: for tests and for {@code seal}. */
    int stateOf(long block) {
        return states.get(block);
    }

    // ---- reads -------------------------------------------------------------------------------------------------

    @Override
    public void read(long offset, long length, ReadSink sink) throws IOException {
        BlockDevice.checkBounds(offset, length, size);
        long at = offset;
        long end = offset + length;
        while (at < end) {
            long block = at >>> SHIFT;
            long lastBlock = (end - 1) >>> SHIFT;
            long run = states.runLength(block, lastBlock - block + 1);
            long runEnd = Math.min(end, (block + run) << SHIFT);
            long n = runEnd - at;
            switch (states.get(block)) {
                case BlockStates.DATA -> sink.file(data, dataMap, at, n);
                case BlockStates.ZERO -> sink.zeros(n);
                default -> base.read(at, n, sink);
            }
            at = runEnd;
        }
    }

    // ---- writes ------------------------------------------------------------------------------------------------

    @Override
    public void write(long offset, ByteBuffer src) throws IOException {
        checkWritable();
        int length = src.remaining();
        BlockDevice.checkBounds(offset, length, size);
        int p = src.position();
        long at = offset;
        long end = offset + length;
        // Leading partial block.
        if ((at & (BLOCK_SIZE - 1)) != 0) {
            int n = (int) Math.min(end - at, BLOCK_SIZE - (at & (BLOCK_SIZE - 1)));
            writePartial(at, slice(src, p, n));
            p += n;
            at += n;
        }
        // Whole blocks: runs of data in one pwrite, runs of zero blocks in one punch.
        while (end - at >= BLOCK_SIZE) {
            long wholeEnd = end & ~(long) (BLOCK_SIZE - 1);
            boolean zero = Zeros.isZero(src, p, BLOCK_SIZE);
            long runEnd = at + BLOCK_SIZE;
            int q = p + BLOCK_SIZE;
            while (runEnd < wholeEnd && Zeros.isZero(src, q, BLOCK_SIZE) == zero) {
                runEnd += BLOCK_SIZE;
                q += BLOCK_SIZE;
            }
            int n = (int) (runEnd - at);
            if (zero) {
                punch(at, n);
            } else {
                writeFully(slice(src, p, n), at);
                states.setRange(at >>> SHIFT, n >>> SHIFT, BlockStates.DATA);
            }
            p += n;
            at += n;
        }
        // Trailing partial block.
        if (at < end) {
            writePartial(at, slice(src, p, (int) (end - at)));
        }
        src.position(src.limit());
        changes.incrementAndGet();
    }

    /** A write within one block that does not cover it. */
    private void writePartial(long at, ByteBuffer part) throws IOException {
        long block = at >>> SHIFT;
        if (states.get(block) == BlockStates.DATA) {
            writeFully(part, at);
            return;
        }
        synchronized (stripes[(int) (block % STRIPES)]) {
            int state = states.get(block);
            if (state == BlockStates.DATA) {
                writeFully(part, at);
                return;
            }
            long blockStart = block << SHIFT;
            ByteBuffer whole = ByteBuffer.allocate(BLOCK_SIZE);
            if (state == BlockStates.BASE) {
                base.readInto(blockStart, whole);
                whole.clear();
            }
            whole.position((int) (at - blockStart));
            whole.put(part);
            whole.clear();
            writeFully(whole, blockStart);
            states.set(block, BlockStates.DATA);
        }
    }

    @Override
    public void writeZeroes(long offset, long length, boolean mayPunch) throws IOException {
        checkWritable();
        BlockDevice.checkBounds(offset, length, size);
        long at = offset;
        long end = offset + length;
        long firstWhole = (at + BLOCK_SIZE - 1) & ~(long) (BLOCK_SIZE - 1);
        long lastWhole = end & ~(long) (BLOCK_SIZE - 1);
        if (firstWhole >= lastWhole) {
            zeroPartial(at, end);
        } else {
            zeroPartial(at, firstWhole);
            if (mayPunch) {
                punch(firstWhole, lastWhole - firstWhole);
            } else {
                // NO_HOLE: zeros that stay allocated (unwritten extents), so later writes cannot hit ENOSPC.
                Libc.fallocate(dataFd, Libc.FALLOC_FL_ZERO_RANGE, firstWhole, lastWhole - firstWhole);
                states.setRange(firstWhole >>> SHIFT, (lastWhole - firstWhole) >>> SHIFT, BlockStates.DATA);
            }
            zeroPartial(lastWhole, end);
        }
        changes.incrementAndGet();
    }

    @Override
    public void trim(long offset, long length) throws IOException {
        // A discarded range reads back as zeros here (the protocol allows any content): deterministic for clients
        // that compare images, and a hole in the overlay file either way.
        writeZeroes(offset, length, true);
    }

    private void zeroPartial(long from, long to) throws IOException {
        if (from < to) {
            writePartialRange(from, to);
        }
    }

    private void writePartialRange(long from, long to) throws IOException {
        long at = from;
        while (at < to) {
            long blockEnd = ((at >>> SHIFT) + 1) << SHIFT;
            int n = (int) (Math.min(to, blockEnd) - at);
            writePartial(at, Zeros.view(n));
            at += n;
        }
    }

    /** Whole blocks {@code [at, at+n)} become ZERO and their overlay bytes are released. */
    private void punch(long at, long n) {
        states.setRange(at >>> SHIFT, n >>> SHIFT, BlockStates.ZERO);
        Libc.fallocate(dataFd, Libc.FALLOC_FL_PUNCH_HOLE | Libc.FALLOC_FL_KEEP_SIZE, at, n);
    }

    // ---- durability --------------------------------------------------------------------------------------------

    /**
     * Makes every write that completed before this call survive a crash.
     *
     * <p>The rule: the persisted bitmap may only say {@code DATA} for a block whose bytes are already durable,
     * otherwise after a crash the block would read whatever the data file held (zeros of a hole, a torn block)
     * instead of the base or the flushed content. So:
     * <ol>
     *   <li>copy the dirty bitmap pages <em>first</em>. Every write sets its block's state only after its
     *       {@code pwrite} returned, so every {@code DATA} bit in the copy belongs to bytes already in the page
     *       cache;</li>
     *   <li>{@code fdatasync} the data file: those bytes, and the block allocations needed to find them, are now
     *       durable. (Copying after the sync would be wrong: a write finishing in between would get its bit
     *       persisted without its bytes.);</li>
     *   <li>write the copied pages in place into the map and {@code fdatasync} it; only then reply.</li>
     * </ol>
     * A crash before step 3 completes leaves each 2-bit entry old or new (pages are rewritten in place; an entry
     * never straddles a sector), and both are safe: an old entry describes bytes that were durable at the previous
     * flush and that only writes not yet acknowledged by a flush have changed since. {@code ZERO} needs no data
     * ordering at all: zero blocks never read the data file, so a punch that did not reach the disk is harmless.
     * Flushes are serialised so a flush never returns before an earlier-started one has persisted its pages.
     */
    @Override
    public void flush() throws IOException {
        flushLock.lock();
        try {
            long seen = changes.get();
            if (seen == flushedChanges) {
                return;
            }
            List<OverlayMap.PageCopy> pages = OverlayMap.snapshotDirty(states);
            data.force(false);
            map.persist(pages);
            flushedChanges = seen;
        } finally {
            flushLock.unlock();
        }
    }

    // ---- sealing -----------------------------------------------------------------------------------------------

    /**
     * Turns this overlay into a new read-only disk layer: flushes, then writes {@code headerFile} describing the image
     * as seen through the overlay (generation = base generation + 1, parent = the base's layer, a new random layer id
     * whose data file is this overlay's). After
     * this the overlay refuses writes; open the header with {@link LayeredImage#open} and put a new overlay on it.
     * Call it with no I/O in flight (the export stopped): a write racing the seal may miss the new layer.
     */
    public LayerHeader seal(Path headerFile) throws IOException {
        flushLock.lock();
        try {
            checkWritable();
            sealed = true;
            changes.incrementAndGet();
        } finally {
            flushLock.unlock();
        }
        flush();
        LayerHeader b = base.header();
        long layerId;
        do {
            layerId = LayerIds.random();
        } while (b.layers().containsKey(layerId));
        Path dir = headerFile.toAbsolutePath().getParent();
        Map<Long, String> layers = new TreeMap<>();
        for (Map.Entry<Long, Path> l : base.layerPaths().entrySet()) {
            layers.put(l.getKey(), dir.relativize(l.getValue()).toString());
        }
        layers.put(layerId, dir.relativize(dataPath.toAbsolutePath().normalize()).toString());
        List<Extent> extents = new ArrayList<>();
        long blocks = states.blocks();
        long block = 0;
        while (block < blocks) {
            long run = states.runLength(block, blocks - block);
            long from = block << SHIFT;
            long to = (block + run) << SHIFT;
            switch (states.get(block)) {
                case BlockStates.DATA -> add(extents, new Extent(from, to - from, layerId, from));
                case BlockStates.ZERO -> add(extents, Extent.zero(from, to - from));
                default -> {
                    for (Extent e : base.extentsIn(from, to)) {
                        add(extents, e);
                    }
                }
            }
            block += run;
        }
        // Keep only layers that some extent still uses, and this generation's own.
        java.util.Set<Long> used = new java.util.HashSet<>();
        used.add(layerId);
        for (Extent e : extents) {
            used.add(e.layerId());
        }
        layers.keySet().retainAll(used);
        LayerHeader h = new LayerHeader(LayerKind.DISK, BLOCK_SIZE, size, b.generation() + 1, layerId, b.layerId(),
                new TreeMap<>(layers), extents);
        LayerHeaderCodec.write(headerFile, h);
        return h;
    }

    private static void add(List<Extent> out, Extent e) {
        LayerHeader.append(out, e);
    }

    private void checkWritable() {
        if (sealed) {
            throw new IllegalStateException("overlay " + dataPath + " is sealed (now a read-only layer)");
        }
    }

    @Override
    public void close() throws IOException {
        try {
            if (!sealed) {
                flush();
            }
        } finally {
            try {
                data.close();
            } finally {
                Libc.close(dataFd);
                try {
                    map.close();
                } finally {
                    unmap();
                }
            }
        }
    }

    private void unmap() throws IOException {
        if (arena.scope().isAlive()) {
            try {
                arena.close();
            } catch (IllegalStateException inUse) {
                throw new IOException("overlay " + dataPath + " still in use: a reader is inside a call on its mapping",
                        inUse);
            }
        }
    }

    private static ByteBuffer slice(ByteBuffer src, int position, int length) {
        return src.duplicate().limit(position + length).position(position);
    }

    /**
     * pwrite through libc on our own fd rather than {@code FileChannel.write}: the channel registers every call in
     * a synchronized thread set (for async close), and with several NBD workers writing 4 KiB blocks that monitor
     * was contended on every request.
     */
    private void writeFully(ByteBuffer b, long pos) throws IOException {
        if (!b.isDirect()) {
            long p = pos;
            while (b.hasRemaining()) {
                p += data.write(b, p);
            }
            return;
        }
        java.lang.foreign.MemorySegment seg = java.lang.foreign.MemorySegment.ofBuffer(b);
        long done = 0;
        while (done < seg.byteSize()) {
            long piece = Math.min(WRITE_CHUNK, seg.byteSize() - done);
            long n = Libc.pwriteRaw(dataFd, seg.asSlice(done), piece, pos + done);
            if (n < 0) {
                if (-n == io.sandboxd.ffi.Errno.EINTR) {
                    continue;
                }
                throw new io.sandboxd.ffi.NativeException("pwrite", (int) -n, dataPath.toString());
            }
            done += n;
        }
        b.position(b.limit());
    }
}
