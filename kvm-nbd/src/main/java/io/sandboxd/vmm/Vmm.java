package io.sandboxd.vmm;

import io.sandboxd.vmm.kvm.DeviceState;
import io.sandboxd.vmm.kvm.ExitHandler;
import io.sandboxd.vmm.kvm.KvmSystem;
import io.sandboxd.vmm.kvm.MachineState;
import io.sandboxd.vmm.kvm.MemorySlot;
import io.sandboxd.vmm.kvm.Vcpu;
import io.sandboxd.vmm.kvm.Vm;
import io.sandboxd.vmm.snapshot.LayerWriter;
import io.sandboxd.vmm.snapshot.MemoryImage;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;

/**
 * The restore API the runtimes use: {@link #restore} a snapshot into a running VM with a chosen memory backend,
 * {@link #snapshot} a running VM as a new layer over the image it came from, {@link #destroy} it. {@link #boot}
 * makes the first machine of a template (the only path that sets registers by hand).
 *
 * <p>Every VM has the in-kernel irqchip and PIT (what a Linux guest needs and what the machine state format
 * holds) and one memory slot per {@link GuestRegion}.
 */
public final class Vmm {
    /** Block size of the memory images this VMM writes: the page, so a diff holds exactly the pages written. */
    public static final int BLOCK_SIZE = (int) MemorySlot.PAGE_SIZE;
    private static final Duration PAUSE_TIMEOUT = Duration.ofSeconds(10);

    private final KvmSystem kvm;

    public Vmm(KvmSystem kvm) {
        this.kvm = kvm;
    }

    /**
     * Creates a machine from scratch: {@code vcpus} vCPUs over {@code memory}, set up by {@code setup} (registers,
     * boot structures), then started with {@code devices}. Its first snapshot is a base ({@link #snapshotBase}).
     */
    public RunningVm boot(GuestMemory memory, int vcpus, Consumer<Vcpu> setup, ExitHandler devices) {
        try {
            return bootMachine(memory, vcpus, vm -> vm.vcpus().forEach(setup), devices);
        } catch (IOException e) {
            throw new AssertionError("a per-vCPU set-up throws no IOException", e);
        }
    }

    /** What runs on a VM after its memory is added and before its vCPUs start: boot set-up, device wiring. */
    @FunctionalInterface
    public interface VmSetup {
        void setUp(Vm vm) throws IOException;
    }

    /**
     * {@link #boot(GuestMemory, int, Consumer, ExitHandler)} with a set-up that sees the whole VM (to load a kernel
     * and wire devices to its interrupt controller before any vCPU runs). On failure everything is released.
     */
    public RunningVm bootMachine(GuestMemory memory, int vcpus, VmSetup setup, ExitHandler devices)
            throws IOException {
        RunningVm running = null;
        try {
            Vm vm = createShell(vcpus).take();
            running = new RunningVm(vm, memory, null);
            addMemory(vm, memory);
            setup.setUp(vm);
            running.start(devices);
            return running;
        } catch (IOException | RuntimeException e) {
            closeAfterFailure(running, memory, e);
            throw e;
        }
    }

    /** A VM with irqchip, PIT and {@code vcpus} vCPUs, ready to be restored into (see {@link VmShell}). */
    public VmShell createShell(int vcpus) {
        if (vcpus < 1) {
            throw new IllegalArgumentException("a VM needs at least one vCPU, got " + vcpus);
        }
        Vm vm = kvm.createVm();
        try {
            vm.createIrqchip();
            vm.createPit();
            for (int i = 0; i < vcpus; i++) {
                vm.createVcpu(i);
            }
            return new VmShell(vm);
        } catch (RuntimeException e) {
            vm.close();
            throw e;
        }
    }

    /**
     * Restores {@code snapshot}: guest memory from {@code backend}, a fresh VM with the machine state restored in
     * KVM's order, vCPU threads started with {@code devices}. On any failure everything made so far is released.
     */
    public RunningVm restore(VmSnapshot snapshot, MemoryBackend backend, ExitHandler devices) throws IOException {
        return restore(createShell(snapshot.state().vcpus().size()), snapshot, backend, devices);
    }

    /** {@link #restore(VmSnapshot, MemoryBackend, ExitHandler)} into a shell made earlier, which it consumes. */
    public RunningVm restore(VmShell shell, VmSnapshot snapshot, MemoryBackend backend, ExitHandler devices)
            throws IOException {
        return restore(shell, snapshot, backend, devices, vm -> {
        });
    }

    /**
     * {@link #restore(VmShell, VmSnapshot, MemoryBackend, ExitHandler)} running {@code beforeStart} after the
     * machine state is restored and before the vCPUs run (where devices take back their state and are wired).
     */
    public RunningVm restore(VmShell shell, VmSnapshot snapshot, MemoryBackend backend, ExitHandler devices,
            VmSetup beforeStart) throws IOException {
        Vm vm = shell.take();
        GuestMemory memory;
        // The memory may fail before the RunningVm exists (while a prefetch runs): remember it and fail the VM then.
        AtomicReference<RunningVm> owner = new AtomicReference<>();
        AtomicReference<RuntimeException> early = new AtomicReference<>();
        try {
            if (shell.vcpus() != snapshot.state().vcpus().size()) {
                throw new IllegalArgumentException("the snapshot has " + snapshot.state().vcpus().size()
                        + " vCPUs, the shell " + shell.vcpus());
            }
            memory = backend.open(snapshot.memory(), cause -> {
                RunningVm r = owner.get();
                if (r != null) {
                    r.fail(cause);
                } else {
                    early.compareAndSet(null, cause);
                }
            });
        } catch (IOException | RuntimeException e) {
            vm.close();
            throw e;
        }
        RunningVm running = new RunningVm(vm, memory, snapshot.memory());
        owner.set(running);
        if (early.get() != null) {
            closeAfterFailure(running, memory, early.get());
            throw new IllegalStateException("guest memory failed during the restore: " + early.get().getMessage(),
                    early.get());
        }
        try {
            checkCovers(memory, snapshot.memory());
            addMemory(vm, memory);
            vm.restoreMachineState(snapshot.state());
            beforeStart.setUp(vm);
            running.start(devices);
            return running;
        } catch (IOException | RuntimeException e) {
            closeAfterFailure(running, memory, e);
            throw e;
        }
    }

    private static void addMemory(Vm vm, GuestMemory memory) {
        for (GuestRegion r : memory.regions()) {
            vm.addMemory(r.guestPhysAddr(), r.host(), r.kvmDirtyLog());
        }
    }

    private static void checkCovers(GuestMemory memory, MemoryImage image) {
        long mapped = memory.host().byteSize();
        if (mapped != image.size()) {
            throw new IllegalStateException("memory backend mapped " + mapped + " bytes for an image of " + image.size());
        }
    }

    private static void closeAfterFailure(RunningVm running, GuestMemory memory, Exception e) {
        try {
            if (running != null) {
                running.close();
            } else {
                memory.close();
            }
        } catch (RuntimeException suppressed) {
            e.addSuppressed(suppressed);
        }
    }

    /**
     * Pauses {@code vm} and writes the pages written since it was restored (or last snapshotted) as a new layer
     * over its parent image, with the machine state beside it. The VM stays paused: {@link RunningVm#resume()} it
     * or {@link #destroy} it.
     */
    public VmSnapshot snapshot(RunningVm vm) throws IOException {
        return snapshot(vm, List::of);
    }

    /** What a machine's devices give a snapshot, asked once the vCPUs are paused (they pause themselves first). */
    @FunctionalInterface
    public interface DeviceStates {
        List<DeviceState> pauseAndSave() throws IOException;
    }

    /** {@link #snapshot(RunningVm)} with the devices' states saved beside the machine's. */
    public VmSnapshot snapshot(RunningVm vm, DeviceStates devices) throws IOException {
        MemoryImage parent = vm.parentImage();
        if (parent == null) {
            throw new IllegalStateException("this VM was booted, not restored: its first snapshot is a base layer "
                    + "(snapshotBase)");
        }
        vm.pause(PAUSE_TIMEOUT);
        MachineState state = vm.vm().saveMachineState().withDevices(devices.pauseAndSave());
        // BLOCK_SIZE is the page size, so the dirty pages are the dirty blocks.
        MemoryImage layer = vm.memory().snapshot(parent, vm.takeDirtyPages());
        return finish(vm, state, layer);
    }

    /** Pauses {@code vm} and writes all of its memory as a generation-1 image in {@code dir}. */
    public VmSnapshot snapshotBase(RunningVm vm, Path dir) throws IOException {
        return snapshotBase(vm, dir, List::of);
    }

    /** {@link #snapshotBase(RunningVm, Path)} with the devices' states saved beside the machine's. */
    public VmSnapshot snapshotBase(RunningVm vm, Path dir, DeviceStates devices) throws IOException {
        vm.pause(PAUSE_TIMEOUT);
        MachineState state = vm.vm().saveMachineState().withDevices(devices.pauseAndSave());
        vm.takeDirtyPages(); // the base holds everything: start the next diff from here
        MemoryImage image = LayerWriter.writeBase(dir, vm.memory().host(), BLOCK_SIZE);
        return finish(vm, state, image);
    }

    private static VmSnapshot finish(RunningVm vm, MachineState state, MemoryImage layer) throws IOException {
        VmSnapshot snapshot = new VmSnapshot(state, layer);
        snapshot.writeState();
        vm.parentImage(layer);
        return snapshot;
    }

    /** Stops the VM and releases every fd and mapping it holds (VM, vCPUs, kvm_run pages, guest memory). */
    public void destroy(RunningVm vm) {
        vm.close();
    }
}
