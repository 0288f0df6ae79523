package io.sandboxd.vmm.devices;

import java.io.IOException;

/** A saved device state that does not fit the device it is given to: wrong kind, truncated, out of range. */
public final class InvalidDeviceStateException extends IOException {
    private static final long serialVersionUID = 1L;

    public InvalidDeviceStateException(String message) {
        super(message);
    }

    public InvalidDeviceStateException(String message, Throwable cause) {
        super(message, cause);
    }
}
