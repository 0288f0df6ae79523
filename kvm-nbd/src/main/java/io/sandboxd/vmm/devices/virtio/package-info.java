/**
 * Virtio 1.x over MMIO: the transport's registers ({@link io.sandboxd.vmm.devices.virtio.VirtioMmioTransport}),
 * split virtqueues read and written in place in guest memory ({@link io.sandboxd.vmm.devices.virtio.Virtqueue},
 * {@link io.sandboxd.vmm.devices.virtio.DescriptorChain}), and the worker thread that runs a device's queues
 * ({@link io.sandboxd.vmm.devices.virtio.DeviceWorker}). Everything a guest writes into a ring is untrusted: a bad
 * descriptor fails its request, a corrupt ring puts the device in DEVICE_NEEDS_RESET, nothing throws out of a
 * device thread.
 */
package io.sandboxd.vmm.devices.virtio;
