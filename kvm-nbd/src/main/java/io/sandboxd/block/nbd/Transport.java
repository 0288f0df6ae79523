package io.sandboxd.block.nbd;

import java.io.IOException;
import java.nio.ByteBuffer;

/** The byte stream a connection runs over: a blocking socket in production, a scripted stream in tests. */
public interface Transport extends AutoCloseable {
    /** Reads at least one byte into {@code dst} (blocking); -1 at end of stream. */
    int read(ByteBuffer dst) throws IOException;

    /** Writes all of {@code src}. */
    void write(ByteBuffer src) throws IOException;

    /** Writes all of {@code srcs}, in order (a gathering write where the transport has one). */
    default void write(ByteBuffer[] srcs) throws IOException {
        for (ByteBuffer b : srcs) {
            write(b);
        }
    }

    @Override
    void close() throws IOException;
}
