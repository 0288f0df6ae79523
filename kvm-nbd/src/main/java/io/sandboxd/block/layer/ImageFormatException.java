package io.sandboxd.block.layer;

import java.io.IOException;
import java.nio.file.Path;

/** An image header or overlay map that cannot be used: wrong magic or version, bad checksum, truncated, inconsistent. */
public final class ImageFormatException extends IOException {
    private static final long serialVersionUID = 1L;

    public ImageFormatException(Path file, String problem) {
        super("block image " + file + ": " + problem);
    }
}
