/**
 * The machine's devices and the seams between them and the VMM: {@link io.sandboxd.vmm.devices.Device} (lifecycle
 * and snapshot state), {@link io.sandboxd.vmm.devices.PortDevice} and {@link io.sandboxd.vmm.devices.MmioDevice}
 * (guest accesses, dispatched from vCPU exits by a bus), {@link io.sandboxd.vmm.devices.InterruptLine} (a device's
 * line to the in-kernel interrupt controller).
 *
 * <p>Sub-packages: {@code legacy} (16550 serial, i8042), {@code virtio} (the virtio-mmio transport, split
 * virtqueues) and one package per virtio device ({@code virtio.blk}, {@code virtio.net}).
 */
package io.sandboxd.vmm.devices;
