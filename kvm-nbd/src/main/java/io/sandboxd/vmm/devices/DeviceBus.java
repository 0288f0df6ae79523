package io.sandboxd.vmm.devices;

import io.sandboxd.vmm.kvm.ExitHandler;
import io.sandboxd.vmm.kvm.GuestFailedException;
import io.sandboxd.vmm.kvm.Vcpu;
import io.sandboxd.vmm.kvm.VcpuExit;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * One machine's devices as its vCPUs see them: port and MMIO exits dispatched to the device that owns the address,
 * and the exits that end a machine (triple fault, reset, a device that failed) turned into a stop with a reason.
 *
 * <p>A port access is one array lookup (no allocation); MMIO devices are few and found by a scan of a small array.
 * Accesses nobody owns behave like an empty bus (reads all ones for ports, zeros for MMIO; writes dropped),
 * counted and logged once per port or page: a booting kernel probes many legacy ports.
 *
 * <p>When one vCPU stops the machine (an i8042 reset, say), the others learn it at their next exit: every exit
 * after {@link #requestStop} returns STOP. The owner kicks the other vCPUs so that the next exit comes soon.
 */
public final class DeviceBus implements ExitHandler {
    private static final System.Logger LOG = System.getLogger(DeviceBus.class.getName());
    private static final int PORTS = 1 << 16;

    private final PortDevice[] ports = new PortDevice[PORTS];
    private volatile MmioDevice[] mmio = new MmioDevice[0];
    private final List<Device> devices = new ArrayList<>();
    private final AtomicReference<String> stopReason = new AtomicReference<>();
    private final BitSet unknownPortsSeen = new BitSet(PORTS);
    private final java.util.Set<Long> unknownPagesSeen = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private final AtomicLong unknownAccesses = new AtomicLong();
    private volatile Runnable onStop = () -> { };

    /** Adds a port device; its port range must not overlap any other's. */
    public synchronized void add(PortDevice d) {
        int from = d.basePort();
        int to = from + d.portCount();
        if (from < 0 || d.portCount() <= 0 || to > PORTS) {
            throw new IllegalArgumentException(d.name() + ": ports 0x" + Integer.toHexString(from) + "+"
                    + d.portCount() + " are outside the I/O space");
        }
        for (int p = from; p < to; p++) {
            if (ports[p] != null) {
                throw new IllegalArgumentException(d.name() + " overlaps " + ports[p].name() + " at port 0x"
                        + Integer.toHexString(p));
            }
        }
        for (int p = from; p < to; p++) {
            ports[p] = d;
        }
        devices.add(d);
    }

    /** Adds an MMIO device; its range must not overlap any other's. */
    public synchronized void add(MmioDevice d) {
        long from = d.mmioBase();
        long size = d.mmioSize();
        if (size <= 0 || from < 0 || from + size < from) {
            throw new IllegalArgumentException(d.name() + ": bad MMIO range 0x" + Long.toHexString(from) + "+" + size);
        }
        for (MmioDevice o : mmio) {
            if (from < o.mmioBase() + o.mmioSize() && o.mmioBase() < from + size) {
                throw new IllegalArgumentException(d.name() + " overlaps " + o.name() + " at MMIO 0x"
                        + Long.toHexString(Math.max(from, o.mmioBase())));
            }
        }
        MmioDevice[] next = java.util.Arrays.copyOf(mmio, mmio.length + 1);
        next[mmio.length] = d;
        mmio = next;
        devices.add(d);
    }

    /** Every device, in the order they were added (the order for pause, save, restore and close). */
    public synchronized List<Device> devices() {
        return List.copyOf(devices);
    }

    /** Called once, on the thread that stopped the machine, when the first stop reason is recorded. */
    public void onStop(Runnable listener) {
        onStop = listener;
    }

    /** Ends the machine's run: this and every later exit of any vCPU returns STOP. The first reason is kept. */
    public void requestStop(String reason) {
        if (stopReason.compareAndSet(null, reason)) {
            onStop.run();
        }
    }

    /** Why the machine stopped, if it did. */
    public Optional<String> stopReason() {
        return Optional.ofNullable(stopReason.get());
    }

    /** Accesses no device owned, since the machine started. */
    public long unknownAccesses() {
        return unknownAccesses.get();
    }

    @Override
    public Action onExit(Vcpu vcpu, VcpuExit exit) {
        if (stopReason.get() != null) {
            return Action.STOP;
        }
        switch (exit) {
            case VcpuExit.PortIo io -> portIo(io);
            case VcpuExit.Mmio m -> mmio(m);
            case VcpuExit.Halt h -> {
                return Action.CONTINUE;
            }
            case VcpuExit.Shutdown s -> {
                requestStop(who(vcpu) + ": the guest shut down (triple fault) at " + s.state());
                return Action.STOP;
            }
            case VcpuExit.SystemEvent e -> {
                requestStop(who(vcpu) + ": the guest asked for a system " + switch (e.type()) {
                    case 1 -> "shutdown";
                    case 2 -> "reset";
                    case 3 -> "crash";
                    default -> "event " + e.type();
                });
                return Action.STOP;
            }
            default -> {
                requestStop(who(vcpu) + ": " + exit);
                throw new GuestFailedException(vcpu == null ? -1 : vcpu.id(), exit);
            }
        }
        return stopReason.get() != null ? Action.STOP : Action.CONTINUE;
    }

    private static String who(Vcpu vcpu) {
        return vcpu == null ? "a vCPU" : "vCPU " + vcpu.id();
    }

    private void portIo(VcpuExit.PortIo io) {
        int port = io.port() & 0xffff;
        PortDevice d = ports[port];
        if (d == null) {
            unknownPort(port, io);
            return;
        }
        try {
            if (io.count() == 1) {
                access(d, port, io.in(), io.data());
            } else {
                // String I/O (rep ins/outs): count accesses of size bytes each, in order.
                for (int i = 0; i < io.count(); i++) {
                    access(d, port, io.in(), io.data().asSlice((long) i * io.size(), io.size()));
                }
            }
        } catch (RuntimeException e) {
            deviceFailed(d, e);
        }
    }

    private static void access(PortDevice d, int port, boolean in, MemorySegment data) {
        if (in) {
            d.in(port, data);
        } else {
            d.out(port, data);
        }
    }

    private void unknownPort(int port, VcpuExit.PortIo io) {
        unknownAccesses.incrementAndGet();
        if (io.in()) {
            io.data().fill((byte) 0xff);
        }
        boolean first;
        synchronized (unknownPortsSeen) {
            first = !unknownPortsSeen.get(port);
            unknownPortsSeen.set(port);
        }
        if (first) {
            LOG.log(System.Logger.Level.DEBUG, () -> "no device at port 0x" + Integer.toHexString(port) + " ("
                    + (io.in() ? "in" : "out") + "); reads are 0xff, writes dropped");
        }
    }

    private void mmio(VcpuExit.Mmio m) {
        for (MmioDevice d : mmio) {
            long offset = m.address() - d.mmioBase();
            if (offset >= 0 && offset < d.mmioSize()) {
                try {
                    if (m.write()) {
                        d.write(offset, m.data().asSlice(0, m.length()));
                    } else {
                        d.read(offset, m.data().asSlice(0, m.length()));
                    }
                } catch (RuntimeException e) {
                    deviceFailed(d, e);
                }
                return;
            }
        }
        unknownAccesses.incrementAndGet();
        if (!m.write()) {
            m.data().asSlice(0, m.length()).fill((byte) 0);
        }
        if (unknownPagesSeen.add(m.address() >>> 12)) {
            LOG.log(System.Logger.Level.DEBUG, () -> "no device at MMIO 0x" + Long.toHexString(m.address())
                    + "; reads are 0, writes dropped");
        }
    }

    /** A device bug ends this machine (its state can no longer be trusted), never the VMM. */
    private void deviceFailed(Device d, RuntimeException e) {
        LOG.log(System.Logger.Level.ERROR, d.name() + " failed on a guest access; stopping this machine", e);
        requestStop(d.name() + " failed: " + e);
    }

    /** Closes every device, the last added first; failures are collected, not let out one by one. */
    public synchronized void closeAll() {
        RuntimeException first = null;
        for (int i = devices.size() - 1; i >= 0; i--) {
            try {
                devices.get(i).close();
            } catch (RuntimeException e) {
                if (first == null) {
                    first = e;
                } else {
                    first.addSuppressed(e);
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }
}
