package io.sandboxd.envd.connect;

import com.google.protobuf.Message;

/**
 * A server-streaming RPC. Runs on a worker thread (never the event loop). It may return before the stream ends
 * and keep sending from other threads: the stream ends only with {@link StreamSink#complete()},
 * {@link StreamSink#fail(ConnectException)}, the call's deadline ({@code deadline_exceeded}) or the client
 * going away. Throwing {@link ConnectException} ends the stream with that error.
 */
@FunctionalInterface
public interface StreamHandler<Req extends Message, Res extends Message> {
    void handle(Req request, CallContext context, StreamSink<Res> sink);
}
