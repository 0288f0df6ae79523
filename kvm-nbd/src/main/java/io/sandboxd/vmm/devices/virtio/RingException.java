package io.sandboxd.vmm.devices.virtio;

/** A virtqueue's rings are corrupt beyond one request (an index out of range, avail running ahead): reset needed. */
public final class RingException extends Exception {
    private static final long serialVersionUID = 1L;

    public RingException(String message) {
        super(message);
    }
}
