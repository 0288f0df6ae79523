package io.sandboxd.block;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * A block image as the NBD server (and later virtio-blk) sees it: a byte range {@code [0, size)} that can be read,
 * and, unless read-only, written, zeroed, trimmed and flushed.
 *
 * <p>Callers check bounds before calling (the NBD server replies with an error instead); implementations still
 * refuse out-of-range access with {@link IllegalArgumentException}, so a bug upstream cannot touch bytes outside
 * the image.
 */
public interface BlockDevice extends Closeable {
    long size();

    boolean readOnly();

    /**
     * Describes where {@code [offset, offset+length)} lives, in order, to {@code sink}: runs in a file (which the
     * sink may copy or send from a mapping) and runs of zeros. Nothing is copied here.
     */
    void read(long offset, long length, ReadSink sink) throws IOException;

    /** Writes {@code src.remaining()} bytes at {@code offset}; consumes {@code src}. */
    void write(long offset, ByteBuffer src) throws IOException;

    /** Makes {@code [offset, offset+length)} read as zeros; {@code mayPunch} false keeps the range allocated. */
    void writeZeroes(long offset, long length, boolean mayPunch) throws IOException;

    /** Discards the range; in this implementation it then reads as zeros. */
    void trim(long offset, long length) throws IOException;

    /** Makes every write that completed before this call durable. */
    void flush() throws IOException;

    /** True when {@code [offset, offset+length)} lies within {@code [0, size)}; overflow-safe. */
    static boolean inBounds(long offset, long length, long size) {
        return offset >= 0 && length >= 0 && offset <= size && length <= size - offset;
    }

    static void checkBounds(long offset, long length, long size) {
        if (!inBounds(offset, length, size)) {
            throw new IllegalArgumentException("range [" + offset + ", +" + length + ") outside image of " + size + " bytes");
        }
    }
}
