package io.sandboxd.vmm.snapshot;

import java.io.IOException;
import java.nio.file.Path;

/** A memory image file that cannot be used: wrong magic or version, bad checksum, truncated, or inconsistent. */
public final class SnapshotFormatException extends IOException {
    private static final long serialVersionUID = 1L;

    public SnapshotFormatException(Path file, String problem) {
        super("memory image " + file + ": " + problem);
    }
}
