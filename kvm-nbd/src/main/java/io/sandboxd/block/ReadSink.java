package io.sandboxd.block;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;

/** Receives the pieces of a read in order: file runs and zero runs (see {@link BlockDevice#read}). */
public interface ReadSink {
    /**
     * {@code length} bytes at {@code position} of {@code file}. Bytes past the file's end read as zeros (layer
     * files may be shorter than the image, or sparse). {@code mapping} is the whole file mapped read-only (its
     * size is the file's), owned by the device and valid during the call, or {@link MemorySegment#NULL}: a sink
     * may copy or send from it instead of reading the channel (no system call per read).
     */
    void file(FileChannel file, MemorySegment mapping, long position, long length) throws IOException;

    void zeros(long length) throws IOException;
}
