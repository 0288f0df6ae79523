package io.sandboxd.vmm.devices;

/** A guest gave a device an address outside its RAM: the request fails, the device and the VMM go on. */
public final class GuestMemoryException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public GuestMemoryException(String message) {
        super(message);
    }
}
