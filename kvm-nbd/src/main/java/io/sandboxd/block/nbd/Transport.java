package io.sandboxd.block.nbd;

import java.io.IOException;
import java.nio.ByteBuffer;

/** The byte stream a connection runs over: a TCP socket in production, a scripted stream in tests. */
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

    /** True when {@link #sendFile} works: file data can go out without a copy through user memory. */
    default boolean canSendFile() {
        return false;
    }

    /**
     * Writes all of {@code src}, telling the transport more follows at once ({@code MSG_MORE}): a reply header
     * written this way leaves in the same segment as the data sent right after it.
     */
    default void writeMore(ByteBuffer src) throws IOException {
        write(src);
    }

    /**
     * Sends up to {@code length} bytes of the file open as {@code fd} from {@code position}, straight from the page
     * cache; returns the bytes sent, fewer only when the file ends first. Only when {@link #canSendFile()}.
     */
    default long sendFile(int fd, long position, long length) throws IOException {
        throw new UnsupportedOperationException("this transport cannot send files");
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
