package io.sandboxd.envd.connect;

import com.google.protobuf.Message;
import java.util.function.Consumer;

/**
 * The response side of a server stream. Thread-safe; messages go out in the order {@code send} is called, each
 * flushed as its own envelope.
 */
public interface StreamSink<Res extends Message> {
    /** Why a stream ended. */
    enum CloseReason {
        /** {@link #complete()} was called. */
        COMPLETED,
        /** {@link #fail(ConnectException)} was called. */
        FAILED,
        /** The call's {@code Connect-Timeout-Ms} ran out; the client got {@code deadline_exceeded}. */
        DEADLINE,
        /** The client closed the connection. */
        CLIENT_GONE
    }

    /**
     * Sends one message. Blocks while the connection has too much unsent data (backpressure: a producer reading a
     * child's pipe stops reading), and returns false once the stream is closed (the message was dropped).
     */
    boolean send(Res message);

    /**
     * {@link #send(Message)} for hot paths that already hold the message's canonical JSON (it must be exactly what
     * {@link ConnectJson#print} gives for {@code message}); the server then skips the printer. Sinks that do not
     * write JSON send the message.
     */
    default boolean send(Res message, byte[] canonicalJson) {
        return send(message);
    }

    /**
     * Sends {@code message} (with its canonical JSON, as {@link #send(Message, byte[])}) as the stream's last message
     * and ends the stream successfully. Where the transport allows, both leave in one write: nothing is held back,
     * and a client handles one chunk instead of two. Returns false when the stream was already closed.
     */
    default boolean sendLast(Res message, byte[] canonicalJson) {
        boolean sent = send(message, canonicalJson);
        complete();
        return sent;
    }

    boolean isOpen();

    /** Ends the stream successfully: an end-stream frame {@code {}}. No-op when already closed. */
    void complete();

    /** Ends the stream with an error in the end-stream frame (HTTP status stays 200). No-op when already closed. */
    void fail(ConnectException error);

    /**
     * Runs {@code listener} once when the stream closes for any reason, or right away when it is already closed.
     * Listeners must not block: they may run on the event loop.
     */
    void onClose(Consumer<CloseReason> listener);
}
