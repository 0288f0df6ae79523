package io.sandboxd.envd.filesystem;

import com.google.protobuf.Message;
import io.sandboxd.envd.connect.ConnectException;
import io.sandboxd.envd.connect.StreamSink;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/** A {@link StreamSink} for tests: records messages, lets the test end the stream as a client or deadline would. */
final class RecordingSink<T extends Message> implements StreamSink<T> {
    final LinkedBlockingQueue<T> messages = new LinkedBlockingQueue<>();
    private final List<Consumer<CloseReason>> listeners = new ArrayList<>();
    volatile ConnectException failure;
    private CloseReason reason;

    @Override
    public synchronized boolean send(T message) {
        if (reason != null) {
            return false;
        }
        messages.add(message);
        return true;
    }

    @Override
    public synchronized boolean isOpen() {
        return reason == null;
    }

    @Override
    public void complete() {
        close(CloseReason.COMPLETED);
    }

    @Override
    public void fail(ConnectException error) {
        failure = error;
        close(CloseReason.FAILED);
    }

    @Override
    public void onClose(Consumer<CloseReason> listener) {
        CloseReason r;
        synchronized (this) {
            r = reason;
            if (r == null) {
                listeners.add(listener);
                return;
            }
        }
        listener.accept(r);
    }

    void close(CloseReason why) {
        List<Consumer<CloseReason>> run;
        synchronized (this) {
            if (reason != null) {
                return;
            }
            reason = why;
            run = List.copyOf(listeners);
        }
        run.forEach(l -> l.accept(why));
    }

    T next(long millis) throws InterruptedException {
        return messages.poll(millis, TimeUnit.MILLISECONDS);
    }
}
