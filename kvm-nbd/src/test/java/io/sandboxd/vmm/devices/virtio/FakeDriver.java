package io.sandboxd.vmm.devices.virtio;

import io.sandboxd.vmm.GuestRegion;
import io.sandboxd.vmm.devices.GuestRam;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A guest driver in test memory, doing what Linux's virtio_mmio and virtio_ring do: negotiate through the
 * registers, lay out one queue's rings in "guest RAM" (an Arena segment at guest-physical 0), post descriptor chains,
 * notify, and wait for the used ring. Tests reach into the rings to corrupt them on purpose.
 */
public final class FakeDriver {
    public static final long RAM = 4L << 20;
    public static final long DESC = 0x1000;
    public static final long AVAIL = 0x3000;
    public static final long USED = 0x4000;
    public static final long DATA = 0x10000;
    public final MemorySegment ram;
    public final GuestRam guestRam;
    public final AtomicInteger interrupts = new AtomicInteger();
    private final Arena arena = Arena.ofShared();
    public VirtioMmioTransport device;
    public int queueSize = 16;
    final int[] nextDesc = new int[2];
    final int[] availIdx = new int[2];
    final int[] usedSeen = new int[2];
    long dataTop = DATA;

    public FakeDriver() {
        ram = arena.allocate(RAM, 4096);
        guestRam = new GuestRam(List.of(new GuestRegion(0, ram, 0, false)));
    }

    public int reg(int offset) {
        MemorySegment d = arena.allocate(4);
        device.read(offset, d);
        return d.get(ValueLayout.JAVA_INT_UNALIGNED, 0);
    }

    public void reg(int offset, int value) {
        MemorySegment d = arena.allocate(4);
        d.set(ValueLayout.JAVA_INT_UNALIGNED, 0, value);
        device.write(offset, d);
    }

    /** The Linux probe-and-set-up sequence; returns the status read back. */
    public int bringUp(long acceptFeatures, int queues) {
        if (reg(VirtioMmioTransport.MAGIC_VALUE) != VirtioMmioTransport.MAGIC || reg(VirtioMmioTransport.VERSION_REG) != 2) {
            throw new AssertionError("not a virtio-mmio v2 device");
        }
        reg(VirtioMmioTransport.STATUS, 0);
        reg(VirtioMmioTransport.STATUS, VirtioConstants.STATUS_ACKNOWLEDGE);
        reg(VirtioMmioTransport.STATUS, VirtioConstants.STATUS_ACKNOWLEDGE | VirtioConstants.STATUS_DRIVER);
        reg(VirtioMmioTransport.DEVICE_FEATURES_SEL, 0);
        long offered = Integer.toUnsignedLong(reg(VirtioMmioTransport.DEVICE_FEATURES));
        reg(VirtioMmioTransport.DEVICE_FEATURES_SEL, 1);
        offered |= Integer.toUnsignedLong(reg(VirtioMmioTransport.DEVICE_FEATURES)) << 32;
        long features = offered & acceptFeatures;
        reg(VirtioMmioTransport.DRIVER_FEATURES_SEL, 0);
        reg(VirtioMmioTransport.DRIVER_FEATURES, (int) features);
        reg(VirtioMmioTransport.DRIVER_FEATURES_SEL, 1);
        reg(VirtioMmioTransport.DRIVER_FEATURES, (int) (features >>> 32));
        int s = VirtioConstants.STATUS_ACKNOWLEDGE | VirtioConstants.STATUS_DRIVER | VirtioConstants.STATUS_FEATURES_OK;
        reg(VirtioMmioTransport.STATUS, s);
        if ((reg(VirtioMmioTransport.STATUS) & VirtioConstants.STATUS_FEATURES_OK) == 0) {
            return reg(VirtioMmioTransport.STATUS);
        }
        ram.asSlice(0, DATA).fill((byte) 0);
        for (int q = 0; q < queues; q++) {
            reg(VirtioMmioTransport.QUEUE_SEL, q);
            reg(VirtioMmioTransport.QUEUE_NUM, queueSize);
            long off = q * 0x4000L;
            setAddress(VirtioMmioTransport.QUEUE_DESC_LOW, DESC + off);
            setAddress(VirtioMmioTransport.QUEUE_DRIVER_LOW, AVAIL + off);
            setAddress(VirtioMmioTransport.QUEUE_DEVICE_LOW, USED + off);
            reg(VirtioMmioTransport.QUEUE_READY, 1);
        }
        java.util.Arrays.fill(nextDesc, 0);
        java.util.Arrays.fill(availIdx, 0);
        java.util.Arrays.fill(usedSeen, 0);
        dataTop = DATA;
        reg(VirtioMmioTransport.STATUS, s | VirtioConstants.STATUS_DRIVER_OK);
        return reg(VirtioMmioTransport.STATUS);
    }

    private void setAddress(int low, long address) {
        reg(low, (int) address);
        reg(low + 4, (int) (address >>> 32));
    }

    /** Room for {@code n} bytes of request data in guest RAM; returns its guest-physical address. */
    public long alloc(long n) {
        long at = dataTop;
        dataTop += (n + 15) & ~15L;
        return at;
    }

    /** Writes descriptor {@code i} of queue 0. */
    public void desc(int i, long addr, int len, int flags, int next) {
        desc(0, i, addr, len, flags, next);
    }

    /** Writes descriptor {@code i} of queue {@code q}. */
    public void desc(int q, int i, long addr, int len, int flags, int next) {
        long at = DESC + q * 0x4000L + 16L * i;
        ram.set(ValueLayout.JAVA_LONG_UNALIGNED, at, addr);
        ram.set(ValueLayout.JAVA_INT_UNALIGNED, at + 8, len);
        ram.set(ValueLayout.JAVA_SHORT_UNALIGNED, at + 12, (short) flags);
        ram.set(ValueLayout.JAVA_SHORT_UNALIGNED, at + 14, (short) next);
    }

    /** A chain of buffers {address, length, writable?} in descriptors starting at the next free one; returns its head. */
    public int chain(long[][] buffers) {
        return chain(0, buffers);
    }

    public int chain(int q, long[][] buffers) {
        int head = nextDesc[q];
        for (int i = 0; i < buffers.length; i++) {
            int idx = (head + i) % queueSize;
            boolean last = i == buffers.length - 1;
            desc(q, idx, buffers[i][0], (int) buffers[i][1],
                    (buffers[i][2] != 0 ? VirtioConstants.DESC_F_WRITE : 0) | (last ? 0 : VirtioConstants.DESC_F_NEXT),
                    (idx + 1) % queueSize);
        }
        nextDesc[q] = (head + buffers.length) % queueSize;
        return head;
    }

    /** Publishes {@code head} in queue 0's available ring and notifies. */
    public void submit(int head) {
        submit(0, head);
    }

    public void submit(int q, int head) {
        long avail = AVAIL + q * 0x4000L;
        ram.set(ValueLayout.JAVA_SHORT_UNALIGNED, avail + 4 + 2L * (availIdx[q] % queueSize), (short) head);
        availIdx[q] = (availIdx[q] + 1) & 0xffff;
        java.lang.invoke.VarHandle.releaseFence();
        ram.set(ValueLayout.JAVA_SHORT_UNALIGNED, avail + 2, (short) availIdx[q]);
        reg(VirtioMmioTransport.QUEUE_NOTIFY, q);
    }

    /** Moves queue 0's indices (driver side and in the rings) to {@code idx}, as after a long-running guest. */
    public void startAt(int idx) {
        availIdx[0] = idx & 0xffff;
        usedSeen[0] = idx & 0xffff;
        ram.set(ValueLayout.JAVA_SHORT_UNALIGNED, AVAIL + 2, (short) idx);
        ram.set(ValueLayout.JAVA_SHORT_UNALIGNED, USED + 2, (short) idx);
    }

    /** Sets the available index directly (to corrupt the ring) and notifies. */
    public void rawAvailIdx(int idx) {
        ram.set(ValueLayout.JAVA_SHORT_UNALIGNED, AVAIL + 2, (short) idx);
        reg(VirtioMmioTransport.QUEUE_NOTIFY, 0);
    }

    public int usedIdx() {
        return usedIdx(0);
    }

    public int usedIdx(int q) {
        return Short.toUnsignedInt(ram.get(ValueLayout.JAVA_SHORT_UNALIGNED, USED + q * 0x4000L + 2));
    }

    /** Waits for the next used entry of queue 0; returns {id, len}. */
    public long[] awaitUsed() throws InterruptedException {
        return awaitUsed(0);
    }

    public long[] awaitUsed(int q) throws InterruptedException {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (usedIdx(q) == usedSeen[q]) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("the device used nothing within 10 s (status 0x"
                        + Integer.toHexString(reg(VirtioMmioTransport.STATUS)) + ", " + device.lastError() + ")");
            }
            Thread.sleep(1);
        }
        long at = USED + q * 0x4000L + 4 + 8L * (usedSeen[q] % queueSize);
        usedSeen[q] = (usedSeen[q] + 1) & 0xffff;
        return new long[] {ram.get(ValueLayout.JAVA_INT_UNALIGNED, at),
                Integer.toUnsignedLong(ram.get(ValueLayout.JAVA_INT_UNALIGNED, at + 4))};
    }

    /** Waits until the device says it needs a reset. */
    public void awaitNeedsReset() throws InterruptedException {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while ((reg(VirtioMmioTransport.STATUS) & VirtioConstants.STATUS_DEVICE_NEEDS_RESET) == 0) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("no DEVICE_NEEDS_RESET within 10 s");
            }
            Thread.sleep(1);
        }
    }

    public void close() {
        if (device != null) {
            device.close();
        }
        arena.close();
    }
}
