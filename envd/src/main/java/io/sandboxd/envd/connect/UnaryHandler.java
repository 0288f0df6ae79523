package io.sandboxd.envd.connect;

import com.google.protobuf.Message;

/**
 * A unary RPC. Runs on a worker thread (never the event loop), so it may block on I/O. Throw
 * {@link ConnectException} for an error the client should see with its code; any other exception is answered
 * as {@code internal} and logged.
 */
@FunctionalInterface
public interface UnaryHandler<Req extends Message, Res extends Message> {
    Res handle(Req request, CallContext context);
}
