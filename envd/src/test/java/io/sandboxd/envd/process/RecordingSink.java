package io.sandboxd.envd.process;

import com.google.protobuf.Message;
import io.sandboxd.envd.connect.ConnectException;
import io.sandboxd.envd.connect.StreamSink;
import io.sandboxd.envd.proto.process.ConnectResponse;
import io.sandboxd.envd.proto.process.ProcessEvent;
import io.sandboxd.envd.proto.process.StartResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/** A stream that records what a handler sends, for driving services without HTTP. */
final class RecordingSink<R extends Message> implements StreamSink<R> {
    private final List<ProcessEvent> events = new ArrayList<>();
    private final List<Consumer<CloseReason>> listeners = new ArrayList<>();
    private final CountDownLatch closed = new CountDownLatch(1);
    private boolean open = true;
    private ConnectException error;

    @Override
    public synchronized boolean send(R message) {
        if (!open) {
            return false;
        }
        events.add(message instanceof StartResponse s ? s.getEvent() : ((ConnectResponse) message).getEvent());
        notifyAll();
        return true;
    }

    @Override
    public synchronized boolean isOpen() {
        return open;
    }

    @Override
    public void complete() {
        close(null, CloseReason.COMPLETED);
    }

    @Override
    public void fail(ConnectException e) {
        close(e, CloseReason.FAILED);
    }

    /** What the server does when the client goes away. */
    void clientGone() {
        close(null, CloseReason.CLIENT_GONE);
    }

    private void close(ConnectException e, CloseReason reason) {
        List<Consumer<CloseReason>> toRun;
        synchronized (this) {
            if (!open) {
                return;
            }
            open = false;
            error = e;
            toRun = List.copyOf(listeners);
            notifyAll();
        }
        toRun.forEach(l -> l.accept(reason));
        closed.countDown();
    }

    @Override
    public void onClose(Consumer<CloseReason> listener) {
        synchronized (this) {
            if (open) {
                listeners.add(listener);
                return;
            }
        }
        listener.accept(CloseReason.COMPLETED);
    }

    /** Waits for the first event (the start event) or the end of the stream. */
    synchronized void awaitFirstEvent() throws InterruptedException {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (events.isEmpty() && open) {
            long left = end - System.nanoTime();
            if (left <= 0) {
                throw new AssertionError("no start event");
            }
            TimeUnit.NANOSECONDS.timedWait(this, left);
        }
    }

    RecordingSink<R> awaitClosed() throws InterruptedException {
        if (!closed.await(20, TimeUnit.SECONDS)) {
            throw new AssertionError("stream did not end; events so far: " + events());
        }
        return this;
    }

    /** Waits until the collected output contains {@code text}. */
    synchronized void awaitOutput(String text, Duration timeout) throws InterruptedException {
        long end = System.nanoTime() + timeout.toNanos();
        while (!output().contains(text)) {
            long left = end - System.nanoTime();
            if (left <= 0) {
                throw new AssertionError("no '" + text + "' in output: " + output());
            }
            TimeUnit.NANOSECONDS.timedWait(this, left);
        }
    }

    synchronized List<ProcessEvent> events() {
        return List.copyOf(events);
    }

    synchronized ConnectException error() {
        return error;
    }

    synchronized String stdout() {
        return collect(ProcessEvent.DataEvent.OutputCase.STDOUT);
    }

    synchronized String stderr() {
        return collect(ProcessEvent.DataEvent.OutputCase.STDERR);
    }

    synchronized String output() {
        StringBuilder sb = new StringBuilder();
        for (ProcessEvent e : events) {
            if (e.hasData()) {
                ProcessEvent.DataEvent d = e.getData();
                sb.append((switch (d.getOutputCase()) {
                    case STDOUT -> d.getStdout();
                    case STDERR -> d.getStderr();
                    case PTY -> d.getPty();
                    case OUTPUT_NOT_SET -> com.google.protobuf.ByteString.EMPTY;
                }).toString(StandardCharsets.UTF_8));
            }
        }
        return sb.toString();
    }

    synchronized ProcessEvent.EndEvent end() {
        return events.stream().filter(ProcessEvent::hasEnd).map(ProcessEvent::getEnd).findFirst()
                .orElseThrow(() -> new AssertionError("no end event in " + events));
    }

    synchronized int pid() {
        return events.getFirst().getStart().getPid();
    }

    private String collect(ProcessEvent.DataEvent.OutputCase which) {
        StringBuilder sb = new StringBuilder();
        for (ProcessEvent e : events) {
            if (e.hasData() && e.getData().getOutputCase() == which) {
                sb.append((which == ProcessEvent.DataEvent.OutputCase.STDOUT ? e.getData().getStdout()
                        : e.getData().getStderr()).toString(StandardCharsets.UTF_8));
            }
        }
        return sb.toString();
    }
}
