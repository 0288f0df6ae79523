package io.sandboxd.block.nbd;

import io.sandboxd.block.BlockDevice;
import java.util.Objects;

/**
 * A named export: a template image (read-only) or a sandbox overlay (read-write). The device is owned by whoever
 * registered the export; the server never closes it.
 */
public record Export(String name, String description, BlockDevice device) {
    public Export {
        Objects.requireNonNull(name);
        Objects.requireNonNull(description);
        Objects.requireNonNull(device);
        if (name.length() > 4096 || description.length() > 4096) {
            throw new IllegalArgumentException("export name and description are limited to 4096 bytes");
        }
    }

    /** Transmission flags: flush/FUA/trim/write-zeroes for writable exports; multi-conn always (one shared cache). */
    public int transmissionFlags() {
        int f = NbdProtocol.FLAG_HAS_FLAGS | NbdProtocol.FLAG_SEND_FLUSH | NbdProtocol.FLAG_CAN_MULTI_CONN;
        if (device.readOnly()) {
            return f | NbdProtocol.FLAG_READ_ONLY;
        }
        return f | NbdProtocol.FLAG_SEND_FUA | NbdProtocol.FLAG_SEND_TRIM | NbdProtocol.FLAG_SEND_WRITE_ZEROES;
    }
}
