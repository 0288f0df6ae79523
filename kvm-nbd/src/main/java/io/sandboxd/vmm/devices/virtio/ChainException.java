package io.sandboxd.vmm.devices.virtio;

/** One descriptor chain is malformed (a loop, an address outside RAM, too long...): only its request fails. */
public final class ChainException extends Exception {
    private static final long serialVersionUID = 1L;

    public ChainException(String message) {
        super(message);
    }
}
