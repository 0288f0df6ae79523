/**
 * The VMM's API for the runtimes: {@link io.sandboxd.vmm.Vmm} restores a {@link io.sandboxd.vmm.VmSnapshot}
 * (machine state + layered memory image) into a {@link io.sandboxd.vmm.RunningVm} with a chosen
 * {@link io.sandboxd.vmm.MemoryBackend}, snapshots it as a new layer, and destroys it.
 *
 * <p>Layers below: {@code vmm.kvm} (VM, vCPUs, exits, state), {@code vmm.snapshot} (the layered memory image
 * format), {@code vmm.memory} (eager, private-map and uffd backends), {@code vmm.arch.x86} (CPU modes, boot).
 */
package io.sandboxd.vmm;
