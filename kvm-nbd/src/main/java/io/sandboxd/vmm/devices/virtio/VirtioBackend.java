package io.sandboxd.vmm.devices.virtio;

import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * The device-specific half of a virtio device (block, net): its id, features, config space and what it does with
 * its queues. The {@link VirtioMmioTransport} owns everything else: registers, feature negotiation, queue set-up,
 * interrupts, the worker thread, reset and snapshot state.
 *
 * <p>{@link #serve} and {@link #pollFds} run on the device's worker thread only; config accesses on vCPU threads.
 */
public interface VirtioBackend extends AutoCloseable {
    /** Virtio device id (1 net, 2 block). */
    int deviceId();

    /** A short kind for names and logs ("virtio-blk"). */
    String kind();

    /** Device feature bits (the transport adds VERSION_1). */
    long features();

    /** The maximum size of each queue, in queue order. */
    int[] queueSizes();

    /** The device's config space as the driver reads it (the transport bounds-checks every access). */
    MemorySegment config();

    default void writeConfig(long offset, MemorySegment data) {
    }

    /**
     * Serves what is available on the queues (all of them active). Returns normally after using what it could; a
     * {@link RingException} means the rings are corrupt and the device needs a reset.
     */
    void serve(List<Virtqueue> queues, UsedNotifier used) throws RingException;

    /** Extra fds the worker should wait on before its next {@link #serve} (a tap with room in the RX queue). */
    default int[] pollFds() {
        return new int[0];
    }

    /** The driver reset the device: forget any per-driver state. */
    default void reset() {
    }

    /** Device-specific state beyond the transport's (none for most devices). */
    default byte[] saveState() {
        return new byte[0];
    }

    default void restoreState(byte[] state) throws io.sandboxd.vmm.devices.InvalidDeviceStateException {
        if (state.length != 0) {
            throw new io.sandboxd.vmm.devices.InvalidDeviceStateException(kind() + " has no state of its own, got "
                    + state.length + " bytes");
        }
    }

    @Override
    void close();

    /** How a backend says it used chains of a queue (the transport decides whether that interrupts the guest). */
    @FunctionalInterface
    interface UsedNotifier {
        void used(Virtqueue queue);
    }
}
