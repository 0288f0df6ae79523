package io.sandboxd.vmm.kvm;

import java.io.IOException;

/** A machine state file that is not one, is from an unknown version, is truncated or fails its checksum. */
public final class InvalidStateFileException extends IOException {
    private static final long serialVersionUID = 1L;

    public InvalidStateFileException(String message) {
        super(message);
    }

    public InvalidStateFileException(String message, Throwable cause) {
        super(message, cause);
    }
}
