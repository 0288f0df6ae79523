package io.sandboxd.vmm.machine;

import io.sandboxd.block.BlockDevice;
import io.sandboxd.block.cow.Overlay;
import io.sandboxd.block.layer.LayeredImage;
import io.sandboxd.ffi.Tun;
import io.sandboxd.vmm.MemoryBackend;
import io.sandboxd.vmm.RunningVm;
import io.sandboxd.vmm.VmShell;
import io.sandboxd.vmm.VmSnapshot;
import io.sandboxd.vmm.Vmm;
import io.sandboxd.vmm.boot.LinuxBoot;
import io.sandboxd.vmm.devices.Device;
import io.sandboxd.vmm.devices.DeviceBus;
import io.sandboxd.vmm.devices.GuestRam;
import io.sandboxd.vmm.devices.InvalidDeviceStateException;
import io.sandboxd.vmm.devices.legacy.I8042;
import io.sandboxd.vmm.devices.legacy.Serial16550;
import io.sandboxd.vmm.devices.virtio.VirtioMmioTransport;
import io.sandboxd.vmm.devices.virtio.blk.VirtioBlock;
import io.sandboxd.vmm.devices.virtio.net.VirtioNet;
import io.sandboxd.vmm.kvm.DeviceState;
import io.sandboxd.vmm.kvm.MachineState;
import io.sandboxd.vmm.kvm.ReleaseSteps;
import io.sandboxd.vmm.kvm.Vm;
import io.sandboxd.vmm.memory.AnonymousGuestMemory;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * A microVM: a KVM VM booted from a Linux kernel (or restored from a {@link MicroVmSnapshot}) with its devices:
 * 16550 console at 0x3f8 (IRQ 4), i8042 at 0x60/0x64 (reset), virtio-blk at {@link #BLK_BASE} (IRQ 5) over a
 * copy-on-write overlay, virtio-net at {@link #NET_BASE} (IRQ 6) over a tap. Interrupts are irqfds; virtqueue
 * notifications are ioeventfds, so a device's work never passes through a vCPU thread.
 *
 * <p>It owns everything it was given (the overlay, the tap) and all it made; {@link #close} releases it all.
 */
public final class MicroVm implements AutoCloseable {
    public static final long BLK_BASE = 0xd000_0000L;
    public static final long NET_BASE = 0xd000_1000L;
    static final int SERIAL_GSI = 4;
    static final int BLK_GSI = 5;
    static final int NET_GSI = 6;
    static final Duration STOP_TIMEOUT = Duration.ofSeconds(10);

    private final Vmm vmm;
    private final MachineSpec spec;
    private final DeviceBus bus = new DeviceBus();
    private final List<IrqfdLine> lines = new ArrayList<>();
    private final List<Runnable> ioeventfds = new ArrayList<>();
    private final BlockDevice disk;
    private final Tun.Device tap;
    private OutputStream console;
    private boolean diskHandedOver;
    private boolean tapHandedOver;
    private volatile RunningVm running;
    private Overlay overlay;
    private boolean closed;

    private MicroVm(Vmm vmm, MachineSpec spec, BlockDevice disk, Tun.Device tap) {
        this.vmm = vmm;
        this.spec = spec;
        this.disk = disk;
        this.tap = tap;
        if (disk instanceof Overlay o) {
            this.overlay = o;
        }
    }

    /** The kernel command line entries that announce our virtio-mmio devices to Linux. */
    public static String virtioCmdline() {
        return "virtio_mmio.device=" + VirtioMmioTransport.SIZE + "@0x" + Long.toHexString(BLK_BASE) + ":" + BLK_GSI
                + " virtio_mmio.device=" + VirtioMmioTransport.SIZE + "@0x" + Long.toHexString(NET_BASE) + ":" + NET_GSI;
    }

    /** Boots {@code spec.boot()} with fresh memory; {@code disk} and {@code tap} become the VM's. */
    public static MicroVm boot(Vmm vmm, MachineSpec spec, BlockDevice disk, Tun.Device tap) throws IOException {
        if (spec.boot() == null) {
            throw new IllegalArgumentException("a boot needs a kernel (MachineSpec.boot)");
        }
        MicroVm m = new MicroVm(vmm, spec, disk, tap);
        AnonymousGuestMemory memory = new AnonymousGuestMemory(spec.memoryBytes());
        try {
            m.running = vmm.bootMachine(memory, spec.vcpus(), vm -> {
                LinuxBoot.setUp(spec.boot().withCmdline(virtioCmdline()), memory.regions(), vm.vcpus(),
                        vm.kvm().supportedCpuid());
                m.attachDevices(vm, new GuestRam(memory.regions()), null);
            }, m.bus);
            return m;
        } catch (IOException | RuntimeException e) {
            m.closeAfterFailure(e);
            throw e;
        }
    }

    /**
     * Restores {@code snapshot} with {@code backend} paging its memory; the disk is a fresh overlay at
     * {@code overlayPath} over the snapshot's sealed disk layer, the network {@code tap}.
     */
    public static MicroVm restore(Vmm vmm, MicroVmSnapshot snapshot, MemoryBackend backend, MachineSpec spec,
            Path overlayPath, Tun.Device tap) throws IOException {
        return restore(vmm, vmm.createShell(snapshot.vcpus()), snapshot, backend, spec, overlayPath, tap);
    }

    /** {@link #restore(Vmm, MicroVmSnapshot, MemoryBackend, MachineSpec, Path, Tun.Device)} into a pooled shell. */
    public static MicroVm restore(Vmm vmm, VmShell shell, MicroVmSnapshot snapshot, MemoryBackend backend,
            MachineSpec spec, Path overlayPath, Tun.Device tap) throws IOException {
        Overlay disk;
        try {
            disk = Overlay.create(overlayPath, LayeredImage.open(snapshot.diskHeader()));
        } catch (IOException | RuntimeException e) {
            shell.close();
            tap.close();
            throw e;
        }
        MicroVm m = new MicroVm(vmm, spec, disk, tap);
        try {
            m.running = vmm.restore(shell, snapshot.vm(), backend, m.bus,
                    vm -> m.attachDevices(vm, new GuestRam(m.slotRegions(vm)), snapshot.vm().state()));
            return m;
        } catch (IOException | RuntimeException e) {
            m.closeAfterFailure(e);
            throw e;
        }
    }

    // The RunningVm does not exist yet while its set-up hook runs: the regions come from the VM's memory slots.
    private List<io.sandboxd.vmm.GuestRegion> slotRegions(Vm vm) {
        List<io.sandboxd.vmm.GuestRegion> regions = new ArrayList<>();
        for (var s : vm.memorySlots()) {
            regions.add(new io.sandboxd.vmm.GuestRegion(s.guestPhysAddr(), s.host(), 0, false));
        }
        return regions;
    }

    /** Builds the devices on {@code vm}, restores their state from {@code state} (null for a boot), starts them. */
    private void attachDevices(Vm vm, GuestRam ram, MachineState state) throws IOException {
        console = new FileOutputStream(spec.consoleLog().toFile(), true);
        Serial16550 serial = new Serial16550(Serial16550.COM1, line(vm, SERIAL_GSI), console, spec.consoleLines());
        I8042 i8042 = new I8042(() -> bus.requestStop("the guest asked for a reset (i8042)"));
        bus.add(serial);
        bus.add(i8042);
        VirtioBlock block = new VirtioBlock(disk, "sandboxd-root");
        diskHandedOver = true;
        VirtioMmioTransport blk = new VirtioMmioTransport(BLK_BASE, block, ram, line(vm, BLK_GSI));
        bus.add(blk);
        VirtioNet network = new VirtioNet(tap, VirtioNet.parseMac(spec.guestMac()));
        tapHandedOver = true;
        VirtioMmioTransport net = new VirtioMmioTransport(NET_BASE, network, ram, line(vm, NET_GSI));
        bus.add(net);
        // The vCPU that saw the stop returns STOP itself; the others would only see it at their next exit (a kick
        // alone sends a vCPU straight back into KVM_RUN): stop them all, from a thread of the VM's own.
        bus.onStop(() -> {
            RunningVm r = running;
            if (r != null) {
                r.fail(new IllegalStateException("machine stopped: " + bus.stopReason().orElse("?")));
            }
        });
        notifyThroughKvm(vm, blk, 1);
        notifyThroughKvm(vm, net, 2);
        if (state != null) {
            for (Device d : bus.devices()) {
                DeviceState s = state.device(d.name()).orElseThrow(() -> new InvalidDeviceStateException(
                        "the snapshot has no state for device " + d.name()));
                d.restoreState(s.state());
            }
        }
        for (Device d : bus.devices()) {
            d.activate();
        }
    }

    private IrqfdLine line(Vm vm, int gsi) {
        IrqfdLine l = new IrqfdLine(vm, gsi);
        lines.add(l);
        return l;
    }

    private void notifyThroughKvm(Vm vm, VirtioMmioTransport t, int queues) {
        for (int q = 0; q < queues; q++) {
            int queue = q;
            vm.ioeventfd(t.notifyAddress(), 4, queue, t.notifyEventFd(), true);
            ioeventfds.add(() -> {
                if (!vm.isClosed()) {
                    vm.ioeventfd(t.notifyAddress(), 4, queue, t.notifyEventFd(), false);
                }
            });
        }
    }

    public RunningVm vm() {
        return running;
    }

    public DeviceBus bus() {
        return bus;
    }

    /**
     * Pauses the machine and writes its snapshot: memory (a base layer in {@code dir} after a boot, a diff over
     * the image it came from after a restore), machine and device state, and the disk sealed as a new layer in
     * {@code dir}. The machine stays paused and its disk is read-only from then on: close it.
     */
    public MicroVmSnapshot snapshot(Path dir) throws IOException {
        if (overlay == null) {
            throw new IllegalStateException("this machine's disk is not an overlay; it cannot be sealed");
        }
        Vmm.DeviceStates devices = () -> {
            List<DeviceState> states = new ArrayList<>();
            for (Device d : bus.devices()) {
                d.pause();
            }
            for (Device d : bus.devices()) {
                states.add(new DeviceState(d.name(), d.saveState()));
            }
            return states;
        };
        VmSnapshot vmSnapshot = running.parentImage() == null ? vmm.snapshotBase(running, dir, devices)
                : vmm.snapshot(running, devices);
        Path diskHeader = dir.resolve("disk-" + vmSnapshot.memory().layerId() + ".header");
        overlay.seal(diskHeader);
        MicroVmSnapshot s = new MicroVmSnapshot(vmSnapshot, diskHeader, running.vcpus().size(), spec.memoryBytes());
        s.write();
        return s;
    }

    /** Stops the vCPUs and devices and releases every fd, thread and mapping. Idempotent. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        ReleaseSteps release = new ReleaseSteps();
        release.run(() -> {
            for (Runnable r : ioeventfds) {
                r.run();
            }
        });
        // Device threads touch guest memory: park them before the memory goes, close them after the vCPUs stopped
        // (a vCPU could still write a register of a closed device).
        for (Device d : bus.devices()) {
            release.run(d::pause);
        }
        if (running != null) {
            release.run(running::close);
        }
        release.run(bus::closeAll); // closes the disk and the tap with their devices
        if (!diskHandedOver) {
            release.run(() -> closeQuietly(disk));
        }
        if (!tapHandedOver) {
            release.run(tap::close);
        }
        for (IrqfdLine l : lines) {
            release.run(l::close);
        }
        if (console != null) {
            release.run(() -> closeQuietly(console));
        }
        release.throwFirstFailure();
    }

    private void closeAfterFailure(Exception e) {
        try {
            close();
        } catch (RuntimeException suppressed) {
            e.addSuppressed(suppressed);
        }
    }

    private static void closeQuietly(AutoCloseable c) {
        try {
            c.close();
        } catch (Exception e) {
            throw new IllegalStateException("closing " + c + " failed: " + e.getMessage(), e);
        }
    }
}
