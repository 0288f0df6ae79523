package io.sandboxd.block;

import java.io.IOException;
import java.nio.channels.FileChannel;

/** Receives the pieces of a read in order: file runs and zero runs (see {@link BlockDevice#read}). */
public interface ReadSink {
    /**
     * {@code length} bytes at {@code position} of {@code file}. Bytes past the file's end read as zeros (layer
     * files may be shorter than the image, or sparse).
     */
    void file(FileChannel file, long position, long length) throws IOException;

    void zeros(long length) throws IOException;
}
