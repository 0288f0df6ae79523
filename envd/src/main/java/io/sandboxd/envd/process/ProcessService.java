package io.sandboxd.envd.process;

import com.google.protobuf.Message;
import io.sandboxd.envd.auth.EnvdAuth;
import io.sandboxd.envd.connect.CallContext;
import io.sandboxd.envd.connect.ConnectCode;
import io.sandboxd.envd.connect.ConnectException;
import io.sandboxd.envd.connect.ConnectRouter;
import io.sandboxd.envd.connect.StreamSink;
import io.sandboxd.envd.proto.process.CloseStdinRequest;
import io.sandboxd.envd.proto.process.CloseStdinResponse;
import io.sandboxd.envd.proto.process.ConnectRequest;
import io.sandboxd.envd.proto.process.ConnectResponse;
import io.sandboxd.envd.proto.process.ListRequest;
import io.sandboxd.envd.proto.process.ListResponse;
import io.sandboxd.envd.proto.process.ProcessEvent;
import io.sandboxd.envd.proto.process.ProcessInfo;
import io.sandboxd.envd.proto.process.SendInputRequest;
import io.sandboxd.envd.proto.process.SendInputResponse;
import io.sandboxd.envd.proto.process.SendSignalRequest;
import io.sandboxd.envd.proto.process.SendSignalResponse;
import io.sandboxd.envd.proto.process.StartRequest;
import io.sandboxd.envd.proto.process.StartResponse;
import io.sandboxd.envd.proto.process.UpdateRequest;
import io.sandboxd.envd.proto.process.UpdateResponse;
import io.sandboxd.ffi.Spawn;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.function.Function;

/** {@code process.Process} (spec 3.4, 3.5): every method except the client-streaming {@code StreamInput}. */
public final class ProcessService implements AutoCloseable {
    static final String SERVICE = "process.Process";

    private final ProcessLauncher launcher;
    private final ProcessTable table;
    private final Executor io;

    /** @param io platform threads that may block for a process's lifetime: they run each child's I/O */
    public ProcessService(EnvdAuth auth, ProcessTable table, Executor io) {
        this.launcher = new ProcessLauncher(auth, io);
        this.table = table;
        this.io = io;
    }

    public void register(ConnectRouter router) {
        // Start runs on the spawner thread (when envd is root): no hand-off between the request and the spawn
        router.serverStream(SERVICE, "Start", StartRequest.getDefaultInstance(),
                StartResponse.newBuilder().setEvent(keepalive()).build(), this::start, launcher.startExecutor());
        router.serverStream(SERVICE, "Connect", ConnectRequest.getDefaultInstance(),
                ConnectResponse.newBuilder().setEvent(keepalive()).build(), this::connect);
        router.unary(SERVICE, "List", ListRequest.getDefaultInstance(), this::list);
        router.unary(SERVICE, "SendInput", SendInputRequest.getDefaultInstance(), this::sendInput);
        router.unary(SERVICE, "CloseStdin", CloseStdinRequest.getDefaultInstance(), this::closeStdin);
        router.unary(SERVICE, "SendSignal", SendSignalRequest.getDefaultInstance(), this::sendSignal);
        router.unary(SERVICE, "Update", UpdateRequest.getDefaultInstance(), this::update);
    }

    void start(StartRequest request, CallContext ctx, StreamSink<StartResponse> sink) {
        LaunchSpec spec = launcher.resolve(request, ctx.user());
        if (!sink.isOpen()) {
            return; // deadline or client gone while resolving: start nothing
        }
        ManagedProcess process = launcher.spawn(spec, request.getProcess(), request.hasTag() ? request.getTag() : null);
        table.add(process);
        // Connect-Timeout-Ms is the process's lifetime for Start, whether or not the client is still there when it
        // runs out (the SDK aborts its own request at the same moment); a client that goes away earlier does not
        // kill it
        ctx.timeLeft().ifPresent(left -> table.killAt(process, left));
        process.subscribe(subscriber(sink, e -> StartResponse.newBuilder().setEvent(e).build(), process, ctx));
        if (!launcher.onSpawnerThread()) {
            process.runIo(); // a worker: saves a hand-off
            return;
        }
        try {
            io.execute(process::runIo);
        } catch (RejectedExecutionException shuttingDown) {
            process.signal(Spawn.SIGKILL);
            process.runIo();
        }
    }

    void connect(ConnectRequest request, CallContext ctx, StreamSink<ConnectResponse> sink) {
        ManagedProcess process = table.find(request.getProcess());
        process.subscribe(subscriber(sink, e -> ConnectResponse.newBuilder().setEvent(e).build(), process, ctx));
    }

    ListResponse list(ListRequest request, CallContext ctx) {
        ListResponse.Builder b = ListResponse.newBuilder();
        for (ManagedProcess p : table.live()) {
            ProcessInfo.Builder info = ProcessInfo.newBuilder().setConfig(p.config()).setPid(p.pid());
            if (p.tag() != null) {
                info.setTag(p.tag());
            }
            b.addProcesses(info);
        }
        return b.build();
    }

    SendInputResponse sendInput(SendInputRequest request, CallContext ctx) {
        ManagedProcess p = table.findRunning(request.getProcess());
        switch (request.getInput().getInputCase()) {
            case STDIN -> p.write(request.getInput().getStdin().toByteArray(), false);
            case PTY -> p.write(request.getInput().getPty().toByteArray(), true);
            case INPUT_NOT_SET -> throw new ConnectException(ConnectCode.INVALID_ARGUMENT, "input needs stdin or pty bytes");
        }
        return SendInputResponse.getDefaultInstance();
    }

    CloseStdinResponse closeStdin(CloseStdinRequest request, CallContext ctx) {
        table.findRunning(request.getProcess()).closeStdin();
        return CloseStdinResponse.getDefaultInstance();
    }

    SendSignalResponse sendSignal(SendSignalRequest request, CallContext ctx) {
        int signal = switch (request.getSignal()) {
            case SIGNAL_SIGKILL -> Spawn.SIGKILL;
            case SIGNAL_SIGTERM -> Spawn.SIGTERM;
            default -> throw new ConnectException(ConnectCode.UNIMPLEMENTED,
                    "signal " + request.getSignalValue() + " is not supported, only SIGTERM and SIGKILL");
        };
        ManagedProcess p = table.findRunning(request.getProcess());
        if (!p.signal(signal)) {
            throw new ConnectException(ConnectCode.NOT_FOUND, "process " + p.pid() + " has already ended");
        }
        return SendSignalResponse.getDefaultInstance();
    }

    UpdateResponse update(UpdateRequest request, CallContext ctx) {
        ManagedProcess p = table.findRunning(request.getProcess());
        if (request.hasPty()) {
            int cols = request.getPty().getSize().getCols();
            int rows = request.getPty().getSize().getRows();
            if (cols == 0 || rows == 0 || cols > 0xffff || rows > 0xffff) {
                throw new ConnectException(ConnectCode.INVALID_ARGUMENT, "pty size " + cols + "x" + rows + " is invalid");
            }
            p.resize(cols, rows);
        }
        return UpdateResponse.getDefaultInstance();
    }

    /** Stops the spawner thread; processes are the table's to kill. */
    @Override
    public void close() {
        launcher.close();
    }

    private static ProcessEvent keepalive() {
        return ProcessEvent.newBuilder().setKeepalive(ProcessEvent.KeepAlive.getDefaultInstance()).build();
    }

    private static boolean deadlinePassed(CallContext ctx) {
        return ctx.hasDeadline() && System.nanoTime() - ctx.deadlineNanos() >= 0;
    }

    private static <R extends Message> ManagedProcess.Subscriber subscriber(StreamSink<R> sink,
            Function<ProcessEvent, R> wrap, ManagedProcess process, CallContext ctx) {
        ManagedProcess.Subscriber s = new ManagedProcess.Subscriber() {
            @Override
            public boolean deliver(ProcessEvent event) {
                return sink.send(wrap.apply(event));
            }

            @Override
            public boolean deliver(ProcessEvent event, byte[] responseJson) {
                return sink.send(wrap.apply(event), responseJson);
            }

            @Override
            public void end(ProcessEvent event, byte[] responseJson) {
                if (deadlinePassed(ctx)) {
                    sink.send(wrap.apply(event), responseJson);
                    ended();
                } else {
                    sink.sendLast(wrap.apply(event), responseJson);
                }
            }

            @Override
            public void ended() {
                // killed at the deadline: the kill may beat the stream's own deadline timer by a hair, but the
                // client must still learn that the deadline, not the process, ended the call
                if (deadlinePassed(ctx)) {
                    sink.fail(new ConnectException(ConnectCode.DEADLINE_EXCEEDED,
                            "the operation timed out (Connect-Timeout-Ms)"));
                } else {
                    sink.complete();
                }
            }
        };
        sink.onClose(reason -> process.unsubscribe(s));
        return s;
    }
}
