package io.sandboxd.block.nbd;

import java.io.IOException;
import java.nio.ByteBuffer;

/** The byte stream a connection runs over: a TCP socket in production, a scripted stream in tests. */
public interface Transport extends AutoCloseable {
    /** Reads at least one byte into {@code dst} (blocking); -1 at end of stream. */
    int read(ByteBuffer dst) throws IOException;

    /** Writes all of {@code src}. */
    void write(ByteBuffer src) throws IOException;

    /**
     * Writes all of {@code srcs}, in order, as one stream of bytes (a reply header and its data leave in the same
     * segments where the transport can do that).
     */
    default void write(ByteBuffer[] srcs) throws IOException {
        for (ByteBuffer b : srcs) {
            write(b);
        }
    }

    /**
     * Makes every thread blocked on this transport fail out, without releasing it (the owner closes it once no
     * thread can use it any more). Any thread may call it.
     */
    default void shutdown() throws IOException {
        close();
    }

    @Override
    void close() throws IOException;
}
