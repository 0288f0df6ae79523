package io.sandboxd.vmm.devices;

/**
 * A device of one machine. Its state is a plain record next to it, saved as bytes with the machine state
 * ({@link #saveState}) and given back, as untrusted input, to a fresh device of the same kind before the vCPUs of
 * a restored machine run ({@link #restoreState}).
 *
 * <p>Lifecycle: built, optionally {@link #restoreState restored}, {@link #activate activated} (its threads start),
 * then {@link #pause}d and {@link #resume}d around snapshots, and {@link #close}d when the machine goes.
 */
public interface Device extends AutoCloseable {
    /** Unique in the machine and stable across snapshots, e.g. {@code serial@0x3f8}, {@code virtio-blk@0xd0000000}. */
    String name();

    /** Starts the device's own threads, if it has any (called once, after restore and before the vCPUs run). */
    default void activate() {
    }

    /**
     * Stops the device's own work at a request boundary (in-flight requests completed, nothing half-written into
     * guest memory), after the vCPUs were paused; nothing changes guest memory or device state until
     * {@link #resume}.
     */
    default void pause() {
    }

    default void resume() {
    }

    /** The device's state, only while paused (or before activation). */
    byte[] saveState();

    /**
     * Takes back a state from {@link #saveState} of a device of the same kind and configuration. The bytes come from
     * a file: anything out of range is refused with {@link InvalidDeviceStateException} naming what is wrong.
     */
    void restoreState(byte[] state) throws InvalidDeviceStateException;

    /** Stops the device's threads and releases what it holds. Idempotent. */
    @Override
    void close();
}
