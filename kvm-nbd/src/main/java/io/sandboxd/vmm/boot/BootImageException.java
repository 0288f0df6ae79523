package io.sandboxd.vmm.boot;

import java.io.IOException;

/** A kernel or initramfs that cannot be booted: not an ELF/bzImage, wrong architecture, does not fit in RAM. */
public final class BootImageException extends IOException {
    private static final long serialVersionUID = 1L;

    public BootImageException(String message) {
        super(message);
    }
}
