package io.sandboxd.vmm.devices.virtio.net;

import io.sandboxd.ffi.Errno;
import io.sandboxd.ffi.Libc;
import io.sandboxd.ffi.Tun;
import io.sandboxd.vmm.devices.virtio.DescriptorChain;
import io.sandboxd.vmm.devices.virtio.RingException;
import io.sandboxd.vmm.devices.virtio.VirtioBackend;
import io.sandboxd.vmm.devices.virtio.VirtioConstants;
import io.sandboxd.vmm.devices.virtio.Virtqueue;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;

/**
 * virtio-net over a tap device (opened with IFF_TAP | IFF_NO_PI | IFF_VNET_HDR, header size 12), which it owns.
 * Queue 0 receives (tap to guest), queue 1 transmits (guest to tap). No offloads are offered, so the 12-byte
 * virtio_net_hdr_v1 passes unchanged both ways except num_buffers, which is 1 (no mergeable buffers).
 *
 * <p>When the guest has posted no receive buffers the worker stops watching the tap until it posts some, so a busy
 * tap never spins the worker; a frame larger than the buffer it would go into is dropped and counted, never
 * written past a descriptor.
 */
public final class VirtioNet implements VirtioBackend {
    public static final int DEVICE_ID = 1;
    static final int RX = 0;
    static final int TX = 1;
    static final int QUEUE_SIZE = 256;
    static final long F_MAC = 1L << 5;
    static final long F_STATUS = 1L << 16;
    static final int HEADER = 12;
    /** Header + a 64 KiB frame: the most a tap hands out without offloads (and far more than an MTU of 1500). */
    static final int MAX_PACKET = HEADER + 65_550;
    static final int CONFIG_SIZE = 8;
    static final int LINK_UP = 1;
    private static final System.Logger LOG = System.getLogger(VirtioNet.class.getName());

    private final Tun.Device tap;
    private final byte[] mac;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment packet = arena.allocate(MAX_PACKET, 64);
    private final MemorySegment config = arena.allocate(CONFIG_SIZE);
    private volatile boolean rxBuffersAvailable = true;
    private long rxFrames;
    private long txFrames;
    private long dropped;

    public VirtioNet(Tun.Device tap, byte[] mac) {
        if (mac.length != 6) {
            throw new IllegalArgumentException("a MAC address has 6 bytes");
        }
        this.tap = tap;
        this.mac = mac.clone();
        MemorySegment.copy(mac, 0, config, ValueLayout.JAVA_BYTE, 0, 6);
        config.set(ValueLayout.JAVA_SHORT_UNALIGNED, 6, (short) LINK_UP);
    }

    /** Parses {@code aa:bb:cc:dd:ee:ff}. */
    public static byte[] parseMac(String text) {
        String[] parts = text.split(":");
        if (parts.length != 6) {
            throw new IllegalArgumentException("not a MAC address: " + text);
        }
        byte[] b = new byte[6];
        for (int i = 0; i < 6; i++) {
            b[i] = (byte) Integer.parseInt(parts[i], 16);
        }
        return b;
    }

    @Override
    public int deviceId() {
        return DEVICE_ID;
    }

    @Override
    public String kind() {
        return "virtio-net";
    }

    @Override
    public long features() {
        return F_MAC | F_STATUS | VirtioConstants.F_RING_EVENT_IDX | VirtioConstants.F_RING_INDIRECT_DESC;
    }

    @Override
    public int[] queueSizes() {
        return new int[] {QUEUE_SIZE, QUEUE_SIZE};
    }

    @Override
    public MemorySegment config() {
        return config;
    }

    /** Frames received, sent, dropped (too large for the guest's buffer, or malformed). */
    public synchronized long[] counters() {
        return new long[] {rxFrames, txFrames, dropped};
    }

    @Override
    public int[] pollFds() {
        return rxBuffersAvailable ? new int[] {tap.fd()} : new int[0];
    }

    @Override
    public void serve(List<Virtqueue> queues, UsedNotifier used) throws RingException {
        if (queues.size() > TX && queues.get(TX).index() == TX) {
            transmit(queues.get(TX), used);
        }
        if (!queues.isEmpty() && queues.get(0).index() == RX) {
            receive(queues.get(0), used);
        }
    }

    private void transmit(Virtqueue q, UsedNotifier used) throws RingException {
        while (true) {
            boolean any = false;
            while (q.pending() > 0) {
                DescriptorChain chain = q.pop();
                any = true;
                send(chain);
                q.pushUsed(chain.head(), 0);
            }
            if (any) {
                used.used(q);
            }
            q.armNotification();
            if (q.pending() == 0) {
                return;
            }
        }
    }

    private void send(DescriptorChain chain) {
        long length = chain.readableLength();
        if (chain.error() != null || length < HEADER || length > MAX_PACKET) {
            count(false, true);
            LOG.log(System.Logger.Level.DEBUG, () -> "virtio-net: dropped a transmit chain of " + length + " bytes: "
                    + chain.error());
            return;
        }
        MemorySegment out = packet.asSlice(0, length);
        chain.read(0, out);
        // No offloads were offered: whatever the guest put in flags/gso is not ours to pass on.
        out.asSlice(0, HEADER).fill((byte) 0);
        long r = Libc.writeRaw(tap.fd(), out, length);
        if (r < 0) {
            count(false, true); // EAGAIN (tap queue full) or the link is down: the frame is lost, as on a wire
        } else {
            count(false, false);
        }
    }

    private void receive(Virtqueue q, UsedNotifier used) throws RingException {
        boolean any = false;
        while (true) {
            if (q.pending() == 0) {
                q.armNotification();
                if (q.pending() == 0) {
                    rxBuffersAvailable = false; // stop watching the tap until the guest posts buffers
                    break;
                }
            }
            rxBuffersAvailable = true;
            long n = Libc.readRaw(tap.fd(), packet, MAX_PACKET);
            if (n == -Errno.EAGAIN || n == -Errno.EINTR) {
                break;
            }
            if (n < 0) {
                LOG.log(System.Logger.Level.WARNING, "virtio-net: reading the tap failed, errno " + -n);
                break;
            }
            if (n < HEADER) {
                count(true, true);
                continue;
            }
            DescriptorChain chain = q.pop();
            any = true;
            if (chain.error() != null || chain.writableLength() < n) {
                count(true, true);
                q.pushUsed(chain.head(), 0);
                continue;
            }
            packet.set(ValueLayout.JAVA_SHORT_UNALIGNED, 10, (short) 1); // num_buffers
            chain.write(0, packet.asSlice(0, n));
            q.pushUsed(chain.head(), n);
            count(true, false);
        }
        if (any) {
            used.used(q);
        }
    }

    private synchronized void count(boolean rx, boolean drop) {
        if (drop) {
            dropped++;
        } else if (rx) {
            rxFrames++;
        } else {
            txFrames++;
        }
    }

    @Override
    public void reset() {
        rxBuffersAvailable = true;
    }

    @Override
    public void close() {
        try {
            tap.close();
        } finally {
            arena.close();
        }
    }

    public byte[] mac() {
        return mac.clone();
    }
}
