package io.sandboxd.layer;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A layer header, layer data file or overlay map that cannot be used: wrong magic, version or kind, bad checksum,
 * truncated, inconsistent, or missing a layer it names.
 */
public final class LayerFormatException extends IOException {
    private static final long serialVersionUID = 1L;

    public LayerFormatException(Path file, String problem) {
        super("layer file " + file + ": " + problem);
    }
}
