package io.sandboxd.block;

import java.io.IOException;
import java.nio.channels.FileChannel;

/** Receives the pieces of a read in order: file runs and zero runs (see {@link BlockDevice#read}). */
public interface ReadSink {
    /**
     * {@code length} bytes at {@code position} of {@code file}, which is also open as descriptor {@code fd} (for
     * {@code sendfile}; owned by the device, valid for the call). Bytes past the file's end read as zeros (layer
     * files may be shorter than the image, or sparse).
     */
    void file(FileChannel file, int fd, long position, long length) throws IOException;

    void zeros(long length) throws IOException;
}
