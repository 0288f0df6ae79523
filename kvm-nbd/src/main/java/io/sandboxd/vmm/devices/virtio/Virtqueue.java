package io.sandboxd.vmm.devices.virtio;

import static io.sandboxd.vmm.devices.virtio.VirtioConstants.DESC_F_INDIRECT;
import static io.sandboxd.vmm.devices.virtio.VirtioConstants.DESC_F_NEXT;
import static io.sandboxd.vmm.devices.virtio.VirtioConstants.DESC_F_WRITE;

import io.sandboxd.vmm.devices.GuestMemoryException;
import io.sandboxd.vmm.devices.GuestRam;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.List;

/**
 * A split virtqueue, read and written where it lies in guest memory (nothing is copied into Java objects but the
 * chain being served). The driver configures it through the transport (size, the three ring addresses, ready); the
 * device thread then pops available chains and pushes used ones.
 *
 * <p>Ring layout (virtio 1.x, little endian): descriptor table of {@code size} x 16 bytes {addr u64, len u32,
 * flags u16, next u16}; available ring {flags u16, idx u16, ring[size] u16, used_event u16}; used ring {flags u16,
 * idx u16, ring[size] {id u32, len u32}, avail_event u16}.
 *
 * <p>Ordering: the available index is read before the entries it publishes (acquire); a used entry is written
 * before the used index that publishes it (release); and a full fence separates publishing used entries from
 * reading the driver's interrupt suppression, the classic lost-wake-up race.
 */
public final class Virtqueue {
    public static final int MAX_SIZE = 256;
    /** More than any request a Linux driver makes (virtio-blk's largest is a few MiB, a net frame 64 KiB). */
    public static final long MAX_CHAIN_BYTES = 16L << 20;
    static final int DESC_SIZE = 16;
    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED;
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED;
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED;

    private final int index;
    private final int maxSize;
    // Set by the driver through the transport before DRIVER_OK.
    private int size;
    private boolean ready;
    private long descAddress;
    private long driverAddress;
    private long deviceAddress;
    // Device-side position; part of the saved state.
    private int lastAvail;
    private int nextUsed;
    private int usedAtLastSignal;
    // Resolved at activation.
    private boolean eventIdx;
    private boolean indirect;
    private GuestRam ram;
    private MemorySegment desc;
    private MemorySegment avail;
    private MemorySegment used;

    public Virtqueue(int index, int maxSize) {
        if (maxSize <= 0 || maxSize > MAX_SIZE || Integer.bitCount(maxSize) != 1) {
            throw new IllegalArgumentException("queue size must be a power of two up to " + MAX_SIZE);
        }
        this.index = index;
        this.maxSize = maxSize;
        this.size = maxSize;
    }

    public int index() {
        return index;
    }

    public int maxSize() {
        return maxSize;
    }

    // ---- driver configuration (through the transport registers) ----------------------------------------------

    public int size() {
        return size;
    }

    public void size(int n) {
        size = n;
    }

    public boolean ready() {
        return ready;
    }

    public void ready(boolean r) {
        ready = r;
    }

    public long descAddress() {
        return descAddress;
    }

    public long driverAddress() {
        return driverAddress;
    }

    public long deviceAddress() {
        return deviceAddress;
    }

    public void addresses(long descTable, long driverRing, long deviceRing) {
        descAddress = descTable;
        driverAddress = driverRing;
        deviceAddress = deviceRing;
    }

    public int lastAvail() {
        return lastAvail;
    }

    public int nextUsed() {
        return nextUsed;
    }

    /** Back to the state after a device reset: unconfigured, nothing consumed. */
    public void reset() {
        size = maxSize;
        ready = false;
        descAddress = driverAddress = deviceAddress = 0;
        lastAvail = nextUsed = usedAtLastSignal = 0;
        ram = null;
        desc = avail = used = null;
    }

    /** Restores a saved device-side position (the rest is restored through the setters). */
    public void position(int lastAvailIdx, int nextUsedIdx) {
        lastAvail = lastAvailIdx & 0xffff;
        nextUsed = nextUsedIdx & 0xffff;
        usedAtLastSignal = nextUsed;
    }

    /**
     * Checks the configuration and maps the rings: size a power of two up to the maximum, rings aligned and inside
     * guest RAM. Called when the driver sets DRIVER_OK (and after a restore) for every ready queue.
     */
    public void activate(GuestRam guestRam, long features) throws RingException {
        if (size <= 0 || size > maxSize || Integer.bitCount(size) != 1) {
            throw new RingException("queue " + index + ": size " + size + " is not a power of two up to " + maxSize);
        }
        if ((descAddress & 15) != 0 || (driverAddress & 1) != 0 || (deviceAddress & 3) != 0) {
            throw new RingException("queue " + index + ": misaligned rings (desc 0x" + Long.toHexString(descAddress)
                    + ", driver 0x" + Long.toHexString(driverAddress) + ", device 0x" + Long.toHexString(deviceAddress)
                    + ")");
        }
        try {
            desc = guestRam.slice(descAddress, (long) DESC_SIZE * size);
            avail = guestRam.slice(driverAddress, 6 + 2L * size);
            used = guestRam.slice(deviceAddress, 6 + 8L * size);
        } catch (GuestMemoryException e) {
            desc = avail = used = null;
            throw new RingException("queue " + index + ": " + e.getMessage());
        }
        ram = guestRam;
        eventIdx = (features & VirtioConstants.F_RING_EVENT_IDX) != 0;
        indirect = (features & VirtioConstants.F_RING_INDIRECT_DESC) != 0;
    }

    public boolean active() {
        return ram != null;
    }

    /** Available chains not yet taken; refuses an index that ran more than a ring ahead. */
    public int pending() throws RingException {
        int availIdx = Short.toUnsignedInt(avail.get(U16, 2));
        VarHandle.acquireFence();
        int n = (availIdx - lastAvail) & 0xffff;
        if (n > size) {
            throw new RingException("queue " + index + ": the available index ran " + n + " ahead of a " + size
                    + "-entry ring");
        }
        return n;
    }

    /** Takes the next available chain (call only when {@link #pending()} > 0). */
    public DescriptorChain pop() throws RingException {
        int head = Short.toUnsignedInt(avail.get(U16, 4 + 2L * (lastAvail % size)));
        if (head >= size) {
            throw new RingException("queue " + index + ": available ring entry names descriptor " + head
                    + " of " + size);
        }
        lastAvail = (lastAvail + 1) & 0xffff;
        return walk(head);
    }

    private DescriptorChain walk(int head) {
        List<MemorySegment> readable = new ArrayList<>();
        List<MemorySegment> writable = new ArrayList<>();
        MemorySegment table = desc;
        int tableSize = size;
        boolean inIndirect = false;
        int i = head;
        int seen = 0;
        long total = 0;
        while (true) {
            if (++seen > tableSize) {
                return new DescriptorChain(head, readable, writable, "descriptor chain loops (more than " + tableSize
                        + " descriptors)");
            }
            long at = (long) i * DESC_SIZE;
            long addr = table.get(U64, at);
            long len = Integer.toUnsignedLong(table.get(U32, at + 8));
            int flags = Short.toUnsignedInt(table.get(U16, at + 12));
            int next = Short.toUnsignedInt(table.get(U16, at + 14));
            if ((flags & DESC_F_INDIRECT) != 0) {
                if (!indirect) {
                    return new DescriptorChain(head, readable, writable, "indirect descriptor without the feature");
                }
                if (inIndirect) {
                    return new DescriptorChain(head, readable, writable, "indirect table inside an indirect table");
                }
                if ((flags & DESC_F_NEXT) != 0) {
                    return new DescriptorChain(head, readable, writable, "indirect descriptor with NEXT set");
                }
                if (len == 0 || len % DESC_SIZE != 0 || len / DESC_SIZE > 0xffff) {
                    return new DescriptorChain(head, readable, writable, "indirect table of " + len + " bytes");
                }
                try {
                    table = ram.slice(addr, len);
                } catch (GuestMemoryException e) {
                    return new DescriptorChain(head, readable, writable, "indirect table: " + e.getMessage());
                }
                tableSize = (int) (len / DESC_SIZE);
                inIndirect = true;
                seen = 0;
                i = 0;
                continue;
            }
            total += len;
            if (total > MAX_CHAIN_BYTES) {
                return new DescriptorChain(head, readable, writable, "descriptor chain longer than " + MAX_CHAIN_BYTES
                        + " bytes");
            }
            MemorySegment buffer;
            try {
                buffer = ram.slice(addr, len);
            } catch (GuestMemoryException e) {
                return new DescriptorChain(head, readable, writable, "descriptor " + i + ": " + e.getMessage());
            }
            if ((flags & DESC_F_WRITE) != 0) {
                writable.add(buffer);
            } else {
                if (!writable.isEmpty()) {
                    return new DescriptorChain(head, readable, writable, "a readable descriptor after a writable one");
                }
                readable.add(buffer);
            }
            if ((flags & DESC_F_NEXT) == 0) {
                return new DescriptorChain(head, readable, writable, null);
            }
            if (next >= tableSize) {
                return new DescriptorChain(head, readable, writable, "descriptor " + i + " links to " + next + " of "
                        + tableSize);
            }
            i = next;
        }
    }

    /** Returns a chain to the driver with {@code written} bytes written into its writable buffers. */
    public void pushUsed(int head, long written) {
        long at = 4 + 8L * (nextUsed % size);
        used.set(U32, at, head);
        used.set(U32, at + 4, (int) Math.min(written, 0xffff_ffffL));
        nextUsed = (nextUsed + 1) & 0xffff;
        VarHandle.releaseFence();
        used.set(U16, 2, (short) nextUsed);
    }

    /**
     * Whether the driver wants an interrupt for the chains used since the last one it was told of: with event idx,
     * when the used index crossed its {@code used_event}; otherwise unless it set VIRTQ_AVAIL_F_NO_INTERRUPT.
     */
    public boolean needsInterrupt() {
        VarHandle.fullFence();
        int old = usedAtLastSignal;
        int now = nextUsed;
        usedAtLastSignal = now;
        if (old == now) {
            return false;
        }
        if (eventIdx) {
            int usedEvent = Short.toUnsignedInt(avail.get(U16, 4 + 2L * size));
            return ((now - usedEvent - 1) & 0xffff) < ((now - old) & 0xffff);
        }
        return (avail.get(U16, 0) & 1) == 0;
    }

    /**
     * Tells the driver (with event idx) to notify again once it adds past what was taken; the caller then checks
     * {@link #pending()} once more, since a chain may have arrived before the write was seen.
     */
    public void armNotification() {
        if (eventIdx) {
            used.set(U16, 4 + 8L * size, (short) lastAvail);
            VarHandle.fullFence();
        }
    }
}
