package io.sandboxd.vmm.devices.virtio;

import static io.sandboxd.vmm.devices.virtio.VirtioConstants.STATUS_DEVICE_NEEDS_RESET;
import static io.sandboxd.vmm.devices.virtio.VirtioConstants.STATUS_DRIVER_OK;
import static io.sandboxd.vmm.devices.virtio.VirtioConstants.STATUS_FEATURES_OK;

import io.sandboxd.vmm.devices.GuestRam;
import io.sandboxd.vmm.devices.InterruptLine;
import io.sandboxd.vmm.devices.InvalidDeviceStateException;
import io.sandboxd.vmm.devices.MmioDevice;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * A virtio device on the virtio-mmio transport, version 2 (modern only), as Linux's virtio_mmio driver finds it
 * from a {@code virtio_mmio.device=4K@<base>:<irq>} command-line entry. Register accesses arrive on vCPU threads;
 * the device's work runs on its own {@link DeviceWorker}, woken by QueueNotify (or by KVM directly when an
 * ioeventfd is registered on {@link #notifyAddress()} for {@link #notifyEventFd()}).
 *
 * <p>Feature negotiation is checked: FEATURES_OK is refused (left clear) unless the driver accepted VERSION_1 and
 * nothing the device did not offer. A ring found corrupt while serving sets DEVICE_NEEDS_RESET and raises a
 * configuration interrupt; the driver's reset (status 0) brings the device back.
 */
public final class VirtioMmioTransport implements MmioDevice {
    public static final long SIZE = 0x200;
    public static final int MAGIC = 0x7472_6976; // "virt"
    public static final int VERSION = 2;
    public static final int VENDOR = 0x5342_5844; // "SBXD"
    static final int MAGIC_VALUE = 0x000;
    static final int VERSION_REG = 0x004;
    static final int DEVICE_ID = 0x008;
    static final int VENDOR_ID = 0x00c;
    static final int DEVICE_FEATURES = 0x010;
    static final int DEVICE_FEATURES_SEL = 0x014;
    static final int DRIVER_FEATURES = 0x020;
    static final int DRIVER_FEATURES_SEL = 0x024;
    static final int QUEUE_SEL = 0x030;
    static final int QUEUE_NUM_MAX = 0x034;
    static final int QUEUE_NUM = 0x038;
    static final int QUEUE_READY = 0x044;
    static final int QUEUE_NOTIFY = 0x050;
    static final int INTERRUPT_STATUS = 0x060;
    static final int INTERRUPT_ACK = 0x064;
    static final int STATUS = 0x070;
    static final int QUEUE_DESC_LOW = 0x080;
    static final int QUEUE_DESC_HIGH = 0x084;
    static final int QUEUE_DRIVER_LOW = 0x090;
    static final int QUEUE_DRIVER_HIGH = 0x094;
    static final int QUEUE_DEVICE_LOW = 0x0a0;
    static final int QUEUE_DEVICE_HIGH = 0x0a4;
    static final int CONFIG_GENERATION = 0x0fc;
    static final int CONFIG = 0x100;
    static final int STATE_VERSION = 1;
    private static final System.Logger LOG = System.getLogger(VirtioMmioTransport.class.getName());

    private final long base;
    private final VirtioBackend backend;
    private final GuestRam ram;
    private final InterruptLine irq;
    private final List<Virtqueue> queues = new ArrayList<>();
    private final DeviceWorker worker;
    private final long offered;
    // Driver-visible registers; guarded by this.
    private int status;
    private int deviceFeaturesSel;
    private int driverFeaturesSel;
    private long driverFeatures;
    private int queueSel;
    // Touched by the worker too, which must never wait for this object's lock (a reset holds it while it waits for
    // the worker to park): atomics.
    private final java.util.concurrent.atomic.AtomicInteger interruptStatus = new java.util.concurrent.atomic.AtomicInteger();
    private final java.util.concurrent.atomic.AtomicInteger configGeneration = new java.util.concurrent.atomic.AtomicInteger();
    private volatile boolean needsReset;
    private volatile boolean live; // DRIVER_OK and not needing reset: the worker may serve
    private volatile String lastError;

    public VirtioMmioTransport(long base, VirtioBackend backend, GuestRam ram, InterruptLine irq) {
        this.base = base;
        this.backend = backend;
        this.ram = ram;
        this.irq = irq;
        this.offered = backend.features() | VirtioConstants.F_VERSION_1;
        int[] sizes = backend.queueSizes();
        for (int i = 0; i < sizes.length; i++) {
            queues.add(new Virtqueue(i, sizes[i]));
        }
        this.worker = new DeviceWorker(name(), new DeviceWorker.Work() {
            @Override
            public void round() {
                serveRound();
            }

            @Override
            public int[] extraFds() {
                return live ? backend.pollFds() : new int[0];
            }
        });
    }

    @Override
    public String name() {
        return backend.kind() + "@0x" + Long.toHexString(base);
    }

    @Override
    public long mmioBase() {
        return base;
    }

    @Override
    public long mmioSize() {
        return SIZE;
    }

    /** Guest-physical address of QueueNotify: where an ioeventfd can replace the MMIO exit. */
    public long notifyAddress() {
        return base + QUEUE_NOTIFY;
    }

    /** The eventfd that wakes this device's worker (for KVM_IOEVENTFD on {@link #notifyAddress()}). */
    public int notifyEventFd() {
        return worker.notifyFd();
    }

    public VirtioBackend backend() {
        return backend;
    }

    /** Status register as the driver sees it (for tests and logs). */
    public synchronized int status() {
        return status | (needsReset ? STATUS_DEVICE_NEEDS_RESET : 0);
    }

    /** The last reason the device needed a reset, or null. */
    public String lastError() {
        return lastError;
    }

    // ---- MMIO ---------------------------------------------------------------------------------------------------

    @Override
    public synchronized void read(long offset, MemorySegment data) {
        if (offset >= CONFIG) {
            long at = offset - CONFIG;
            MemorySegment config = backend.config();
            if (at + data.byteSize() <= config.byteSize()) {
                MemorySegment.copy(config, at, data, 0, data.byteSize());
            } else {
                data.fill((byte) 0);
            }
            return;
        }
        if (data.byteSize() != 4 || (offset & 3) != 0) {
            data.fill((byte) 0); // registers are 32-bit; anything else reads as 0
            return;
        }
        Virtqueue q = selected();
        int value = switch ((int) offset) {
            case MAGIC_VALUE -> MAGIC;
            case VERSION_REG -> VERSION;
            case DEVICE_ID -> backend.deviceId();
            case VENDOR_ID -> VENDOR;
            case DEVICE_FEATURES -> deviceFeaturesSel == 0 ? (int) offered
                    : deviceFeaturesSel == 1 ? (int) (offered >>> 32) : 0;
            case QUEUE_NUM_MAX -> q == null ? 0 : q.maxSize();
            case QUEUE_READY -> q != null && q.ready() ? 1 : 0;
            case INTERRUPT_STATUS -> interruptStatus.get();
            case STATUS -> status();
            case CONFIG_GENERATION -> configGeneration.get();
            default -> 0;
        };
        data.set(ValueLayout.JAVA_INT_UNALIGNED, 0, value);
    }

    @Override
    public void write(long offset, MemorySegment data) {
        if (offset == QUEUE_NOTIFY && data.byteSize() == 4) {
            worker.notifyQueue(); // no lock: the hot path of every request
            return;
        }
        synchronized (this) {
            if (offset >= CONFIG) {
                long at = offset - CONFIG;
                if (at + data.byteSize() <= backend.config().byteSize()) {
                    backend.writeConfig(at, data);
                }
                return;
            }
            if (data.byteSize() != 4 || (offset & 3) != 0) {
                return;
            }
            int value = data.get(ValueLayout.JAVA_INT_UNALIGNED, 0);
            Virtqueue q = selected();
            switch ((int) offset) {
                case DEVICE_FEATURES_SEL -> deviceFeaturesSel = value;
                case DRIVER_FEATURES_SEL -> driverFeaturesSel = value;
                case DRIVER_FEATURES -> {
                    if ((status & STATUS_FEATURES_OK) == 0 && (driverFeaturesSel == 0 || driverFeaturesSel == 1)) {
                        int shift = 32 * driverFeaturesSel;
                        driverFeatures = (driverFeatures & ~(0xffff_ffffL << shift))
                                | (Integer.toUnsignedLong(value) << shift);
                    }
                }
                case QUEUE_SEL -> queueSel = value;
                case QUEUE_NUM -> {
                    if (q != null && !q.ready()) {
                        q.size(value);
                    }
                }
                case QUEUE_READY -> {
                    if (q != null) {
                        q.ready(value == 1);
                    }
                }
                case QUEUE_DESC_LOW, QUEUE_DESC_HIGH, QUEUE_DRIVER_LOW, QUEUE_DRIVER_HIGH, QUEUE_DEVICE_LOW,
                        QUEUE_DEVICE_HIGH -> setQueueAddress(q, (int) offset, value);
                case INTERRUPT_ACK -> interruptStatus.getAndUpdate(v -> v & ~value);
                case STATUS -> writeStatus(value);
                default -> {
                    // read-only or unknown registers
                }
            }
        }
    }

    private Virtqueue selected() {
        return queueSel >= 0 && queueSel < queues.size() ? queues.get(queueSel) : null;
    }

    private static void setQueueAddress(Virtqueue q, int register, int value) {
        if (q == null || q.ready()) {
            return; // addresses of a live queue cannot change
        }
        long v = Integer.toUnsignedLong(value);
        long desc = q.descAddress();
        long driver = q.driverAddress();
        long device = q.deviceAddress();
        switch (register) {
            case QUEUE_DESC_LOW -> desc = (desc & ~0xffff_ffffL) | v;
            case QUEUE_DESC_HIGH -> desc = (desc & 0xffff_ffffL) | (v << 32);
            case QUEUE_DRIVER_LOW -> driver = (driver & ~0xffff_ffffL) | v;
            case QUEUE_DRIVER_HIGH -> driver = (driver & 0xffff_ffffL) | (v << 32);
            case QUEUE_DEVICE_LOW -> device = (device & ~0xffff_ffffL) | v;
            default -> device = (device & 0xffff_ffffL) | (v << 32);
        }
        q.addresses(desc, driver, device);
    }

    private void writeStatus(int value) {
        if (value == 0) {
            reset();
            return;
        }
        if ((value & STATUS_FEATURES_OK) != 0 && (status & STATUS_FEATURES_OK) == 0) {
            boolean ok = (driverFeatures & VirtioConstants.F_VERSION_1) != 0 && (driverFeatures & ~offered) == 0;
            if (!ok) {
                value &= ~STATUS_FEATURES_OK; // the driver reads it back and gives up
            }
        }
        int before = status;
        status = value & ~STATUS_DEVICE_NEEDS_RESET;
        if ((status & STATUS_DRIVER_OK) != 0 && (before & STATUS_DRIVER_OK) == 0 && !needsReset) {
            goLive();
        }
    }

    private void goLive() {
        if ((status & STATUS_FEATURES_OK) == 0) {
            needsReset("DRIVER_OK without FEATURES_OK");
            return;
        }
        for (Virtqueue q : queues) {
            if (q.ready()) {
                try {
                    q.activate(ram, driverFeatures);
                } catch (RingException e) {
                    needsReset(e.getMessage());
                    return;
                }
            }
        }
        live = true;
        worker.notifyQueue();
    }

    /** Stops serving, waits for the worker to finish its round, forgets the driver's set-up. */
    private void reset() {
        live = false;
        worker.pause();
        for (Virtqueue q : queues) {
            q.reset();
        }
        status = 0;
        needsReset = false;
        lastError = null;
        driverFeatures = 0;
        deviceFeaturesSel = driverFeaturesSel = queueSel = 0;
        interruptStatus.set(0);
        backend.reset();
        worker.resume();
    }

    private void needsReset(String why) {
        live = false;
        lastError = why;
        LOG.log(System.Logger.Level.WARNING, name() + ": needs a reset: " + why);
        // the interrupt reason first: a driver that sees NEEDS_RESET must find it
        interruptStatus.getAndUpdate(v -> v | VirtioConstants.INTERRUPT_CONFIG_CHANGE);
        configGeneration.incrementAndGet();
        needsReset = true;
        irq.trigger();
    }

    /** A device's config space changed (a net link going down): tell the driver. */
    public void configChanged() {
        configGeneration.incrementAndGet();
        interruptStatus.getAndUpdate(v -> v | VirtioConstants.INTERRUPT_CONFIG_CHANGE);
        irq.trigger();
    }

    // ---- the worker's side --------------------------------------------------------------------------------------

    private void serveRound() {
        if (!live) {
            return;
        }
        List<Virtqueue> active = new ArrayList<>(queues.size());
        for (Virtqueue q : queues) {
            if (q.active()) {
                active.add(q);
            }
        }
        try {
            backend.serve(active, this::usedBuffers);
        } catch (RingException e) {
            needsReset(e.getMessage());
        } catch (RuntimeException e) {
            // A device bug must not kill the worker silently nor the VMM: this device stops, the guest is told.
            LOG.log(System.Logger.Level.ERROR, name() + " failed while serving its queues", e);
            needsReset(e.toString());
        }
    }

    private void usedBuffers(Virtqueue q) {
        if (q.needsInterrupt()) {
            interruptStatus.getAndUpdate(v -> v | VirtioConstants.INTERRUPT_USED_BUFFER);
            irq.trigger();
        }
    }

    // ---- Device -------------------------------------------------------------------------------------------------

    @Override
    public void activate() {
        worker.start();
        if (interruptStatus.get() != 0) {
            irq.trigger(); // an interrupt the snapshot had pending
        }
    }

    @Override
    public void pause() {
        worker.pause();
    }

    @Override
    public void resume() {
        worker.resume();
    }

    @Override
    public synchronized byte[] saveState() {
        byte[] own = backend.saveState();
        ByteBuffer b = ByteBuffer.allocate(64 + queues.size() * 40 + own.length);
        b.putInt(STATE_VERSION).putInt(backend.deviceId()).putInt(status()).putLong(driverFeatures)
                .putInt(deviceFeaturesSel).putInt(driverFeaturesSel).putInt(queueSel).putInt(interruptStatus.get())
                .putInt(configGeneration.get()).put((byte) (live ? 1 : 0)).putInt(queues.size());
        for (Virtqueue q : queues) {
            b.putInt(q.size()).put((byte) (q.ready() ? 1 : 0)).putLong(q.descAddress()).putLong(q.driverAddress())
                    .putLong(q.deviceAddress()).putShort((short) q.lastAvail()).putShort((short) q.nextUsed());
        }
        b.putInt(own.length).put(own);
        return java.util.Arrays.copyOf(b.array(), b.position());
    }

    @Override
    public synchronized void restoreState(byte[] state) throws InvalidDeviceStateException {
        try {
            ByteBuffer b = ByteBuffer.wrap(state);
            int version = b.getInt();
            int id = b.getInt();
            if (version != STATE_VERSION || id != backend.deviceId()) {
                throw new InvalidDeviceStateException(name() + ": state of version " + version + " for device id "
                        + id + ", expected version " + STATE_VERSION + " of device " + backend.deviceId());
            }
            int st = b.getInt();
            long features = b.getLong();
            int dfs = b.getInt();
            int drfs = b.getInt();
            int qs = b.getInt();
            int is = b.getInt();
            int gen = b.getInt();
            boolean wasLive = b.get() == 1;
            int n = b.getInt();
            if (n != queues.size()) {
                throw new InvalidDeviceStateException(name() + ": state has " + n + " queues, the device "
                        + queues.size());
            }
            if ((features & ~offered) != 0) {
                throw new InvalidDeviceStateException(name() + ": state has features 0x" + Long.toHexString(features)
                        + " the device does not offer");
            }
            if ((is & ~3) != 0 || (st & ~0xff) != 0) {
                throw new InvalidDeviceStateException(name() + ": status or interrupt bits out of range");
            }
            List<Runnable> apply = new ArrayList<>();
            for (Virtqueue q : queues) {
                int size = b.getInt();
                boolean ready = b.get() == 1;
                long desc = b.getLong();
                long driver = b.getLong();
                long device = b.getLong();
                int lastAvail = Short.toUnsignedInt(b.getShort());
                int nextUsed = Short.toUnsignedInt(b.getShort());
                if (size <= 0 || size > q.maxSize() || Integer.bitCount(size) != 1) {
                    throw new InvalidDeviceStateException(name() + ": queue " + q.index() + " has size " + size);
                }
                if (ready && wasLive) {
                    Virtqueue probe = new Virtqueue(q.index(), q.maxSize());
                    probe.size(size);
                    probe.addresses(desc, driver, device);
                    try {
                        probe.activate(ram, features);
                    } catch (RingException e) {
                        throw new InvalidDeviceStateException(name() + ": " + e.getMessage());
                    }
                }
                apply.add(() -> {
                    q.reset();
                    q.size(size);
                    q.addresses(desc, driver, device);
                    q.ready(ready);
                    q.position(lastAvail, nextUsed);
                });
            }
            int ownLength = b.getInt();
            if (ownLength < 0 || ownLength != b.remaining()) {
                throw new InvalidDeviceStateException(name() + ": device state of " + ownLength + " bytes, "
                        + b.remaining() + " left");
            }
            byte[] own = new byte[ownLength];
            b.get(own);
            backend.restoreState(own);
            apply.forEach(Runnable::run);
            status = st & ~STATUS_DEVICE_NEEDS_RESET;
            needsReset = (st & STATUS_DEVICE_NEEDS_RESET) != 0;
            driverFeatures = features;
            deviceFeaturesSel = dfs;
            driverFeaturesSel = drfs;
            queueSel = qs;
            interruptStatus.set(is);
            configGeneration.set(gen);
            live = false;
            if (wasLive && !needsReset) {
                for (Virtqueue q : queues) {
                    if (q.ready()) {
                        q.activate(ram, driverFeatures);
                    }
                }
                live = true;
            }
        } catch (BufferUnderflowException e) {
            throw new InvalidDeviceStateException(name() + ": state truncated", e);
        } catch (RingException e) {
            throw new InvalidDeviceStateException(name() + ": " + e.getMessage());
        }
    }

    @Override
    public void close() {
        live = false;
        try {
            worker.close();
        } finally {
            backend.close();
        }
    }

    /** For tests: whether the device is serving (DRIVER_OK, not needing reset). */
    boolean live() {
        return live;
    }
}
