package io.sandboxd.envd.process;

import com.google.protobuf.ByteString;
import io.sandboxd.envd.connect.ConnectCode;
import io.sandboxd.envd.connect.ConnectException;
import io.sandboxd.envd.proto.process.ProcessConfig;
import io.sandboxd.envd.proto.process.ProcessEvent;
import io.sandboxd.ffi.Errno;
import io.sandboxd.ffi.Libc;
import io.sandboxd.ffi.NativeException;
import io.sandboxd.ffi.Pty;
import io.sandboxd.ffi.Spawn;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * One child of envd and everything it owns: its output fds (two pipes or a PTY master), its stdin, a pidfd, and
 * one platform thread that polls them, reads output, reaps the child and fans events out to the subscribed
 * streams.
 *
 * <p>Subscribers get the output from the moment they subscribe (a late {@code Connect} sees the rest, not a
 * replay). {@link Subscriber#deliver} may block when a client is slow; the I/O thread then stops reading, the
 * pipe fills and the child blocks in write: memory per stream stays bounded.
 *
 * <p>When the child has exited, output is drained until every fd reports EOF, or until nothing arrived for
 * {@link #DRAIN_QUIET_MILLIS} (a background grandchild may keep the pipe open forever; the command is done).
 */
public final class ManagedProcess {
    private static final Logger LOG = Logger.getLogger(ManagedProcess.class.getName());
    static final int DRAIN_QUIET_MILLIS = 50;
    /**
     * Largest output message. A pipe hands out at most 64 KiB per read; while more is already waiting, reads are
     * merged up to this size, so a fast producer costs the client fewer, larger messages (the SDKs' per-message
     * decoding dominates), and interactive output is never held back.
     */
    private static final int READ_CHUNK = 512 << 10;
    private static final int PIPE_READ = 64 << 10;

    /** Receives a process's events; returns false when it wants no more (its stream is closed). */
    public interface Subscriber {
        boolean deliver(ProcessEvent event);

        /** An output event with its canonical JSON as a {@code StartResponse}/{@code ConnectResponse}. */
        default boolean deliver(ProcessEvent event, byte[] responseJson) {
            return deliver(event);
        }

        /** The process ended and its end event was delivered: finish the stream. */
        void ended();

        /**
         * The process ended: deliver its end event (with its canonical JSON) and finish. One call, so a stream can
         * send the end event and its own end in one write.
         */
        default void end(ProcessEvent endEvent, byte[] responseJson) {
            deliver(endEvent, responseJson);
            ended();
        }
    }

    private final int pid;
    private final ProcessConfig config;
    private final String tag;
    private final boolean pty;
    private final int outFd;
    private final int errFd;
    private final int pidFd;
    /** The start event's JSON: the same for every subscriber. */
    private final byte[] startJson;
    private final Object inputLock = new Object();
    /** stdin pipe write end, or the PTY master for input; -1 once closed. Guarded by inputLock. */
    private int inputFd;
    /** Guarded by inputLock: set once the output side is torn down, after which no fd may be used. */
    private boolean closed;
    /** Guarded by this: the child was reaped, its pid may be reused, never signal it again. */
    private boolean reaped;
    private ProcessEvent.EndEvent end;
    private final List<Subscriber> subscribers = new CopyOnWriteArrayList<>();
    /** Guarded by this; null once the end callbacks ran. */
    private List<Consumer<ManagedProcess>> endCallbacks = new java.util.ArrayList<>(2);

    private ManagedProcess(int pid, ProcessConfig config, String tag, boolean pty, int inputFd, int outFd, int errFd) {
        this.pid = pid;
        this.config = config;
        this.tag = tag;
        this.pty = pty;
        this.inputFd = inputFd;
        this.outFd = outFd;
        this.errFd = errFd;
        int pfd;
        try {
            pfd = Spawn.pidfdOpen(pid);
        } catch (NativeException e) {
            // the kernel predates pidfd (5.3): fall back to polling waitpid
            pfd = -1;
        }
        this.pidFd = pfd;
        this.startJson = ProcessEventJson.start(pid);
    }

    static ManagedProcess withPipes(int pid, ProcessConfig config, String tag, int stdinFd, int stdoutFd, int stderrFd) {
        return new ManagedProcess(pid, config, tag, false, stdinFd, stdoutFd, stderrFd);
    }

    static ManagedProcess withPty(int pid, ProcessConfig config, String tag, int masterFd) {
        return new ManagedProcess(pid, config, tag, true, masterFd, masterFd, -1);
    }

    public int pid() {
        return pid;
    }

    public ProcessConfig config() {
        return config;
    }

    /** Null when the process has no tag. */
    public String tag() {
        return tag;
    }

    public boolean isPty() {
        return pty;
    }

    public synchronized boolean hasEnded() {
        return end != null;
    }

    /** Runs {@code callback} once after the end event went out (right away if that already happened). */
    void onEnd(Consumer<ManagedProcess> callback) {
        synchronized (this) {
            if (endCallbacks != null) {
                endCallbacks.add(callback);
                return;
            }
        }
        callback.accept(this);
    }

    /**
     * Runs the process's I/O on the calling thread until it ended and its end event went out. The caller must be
     * a platform thread that may block for the process's lifetime (a worker: that saves a thread start and a
     * hand-off per command). Subscribe the first stream before, so no output is missed.
     */
    void runIo() {
        Thread t = Thread.currentThread();
        String name = t.getName();
        t.setName("envd-process-" + pid);
        try {
            ioLoop();
        } finally {
            t.setName(name);
        }
    }

    /**
     * Sends {@code start{pid}} to {@code s} and attaches it; for an ended process, also sends the end event and
     * finishes it.
     */
    public void subscribe(Subscriber s) {
        ProcessEvent.EndEvent ended;
        synchronized (this) {
            ended = end;
            if (ended == null) {
                if (s.deliver(startEvent(), startJson)) {
                    subscribers.add(s);
                }
                return;
            }
        }
        if (s.deliver(startEvent(), startJson)) {
            s.end(ProcessEvent.newBuilder().setEnd(ended).build(), ProcessEventJson.end(ended));
        } else {
            s.ended();
        }
    }

    public void unsubscribe(Subscriber s) {
        subscribers.remove(s);
    }

    // ---- input and control -------------------------------------------------------------------------------------

    /** Writes stdin bytes (pipe processes) or terminal input (PTY processes), completely. */
    public void write(byte[] data, boolean toPty) {
        if (toPty != pty) {
            throw new ConnectException(ConnectCode.INTERNAL, toPty ? "process " + pid + " has no pty"
                    : "process " + pid + " is a pty process: send its input as pty data");
        }
        synchronized (inputLock) {
            if (closed || inputFd < 0) {
                throw new ConnectException(ConnectCode.INTERNAL, "stdin of process " + pid + " is not enabled or closed");
            }
            try (Arena a = Arena.ofConfined()) {
                MemorySegment buf = a.allocateFrom(ValueLayout.JAVA_BYTE, data);
                long off = 0;
                while (off < data.length) {
                    long n = Libc.writeRaw(inputFd, buf.asSlice(off), data.length - off);
                    if (n == -Errno.EINTR) {
                        continue;
                    }
                    if (n < 0) {
                        throw new ConnectException(ConnectCode.INTERNAL, "writing to process " + pid + ": "
                                + new NativeException("write", (int) -n).getMessage());
                    }
                    off += n;
                }
            }
        }
    }

    /** Closes the stdin pipe so the child reads EOF. Not for PTY processes. */
    public void closeStdin() {
        if (pty) {
            throw new ConnectException(ConnectCode.INTERNAL, "process " + pid + " is a pty process and has no stdin pipe");
        }
        synchronized (inputLock) {
            if (closed || inputFd < 0) {
                return;
            }
            ProcessLauncher.closeQuietly(inputFd);
            inputFd = -1;
        }
    }

    /** Resizes the terminal (the kernel sends SIGWINCH to its foreground job). */
    public void resize(int cols, int rows) {
        if (!pty) {
            throw new ConnectException(ConnectCode.INTERNAL, "process " + pid + " has no pty to resize");
        }
        synchronized (inputLock) {
            if (closed) {
                throw new ConnectException(ConnectCode.NOT_FOUND, "process " + pid + " has ended");
            }
            Pty.setWindowSize(outFd, new Pty.WindowSize(rows, cols));
        }
    }

    /**
     * Signals the process and its process group (it leads its own session, so this reaches the job it started).
     * Returns false when it already ended.
     */
    public synchronized boolean signal(int signal) {
        if (reaped) {
            return false;
        }
        Spawn.killRaw(-pid, signal);
        Spawn.killRaw(pid, signal);
        return true;
    }

    // ---- the I/O thread ----------------------------------------------------------------------------------------

    private void ioLoop() {
        int status = 0;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(READ_CHUNK);
            MemorySegment fds = arena.allocate(Libc.POLLFD, 3);
            int[] watched = {outFd, errFd, pidFd};
            boolean exited = false;
            long quietSince = 0;
            while (true) {
                int n = 0;
                for (int i = 0; i < 3; i++) {
                    MemorySegment p = fds.asSlice(i * Libc.POLLFD.byteSize(), Libc.POLLFD.byteSize());
                    p.set(ValueLayout.JAVA_INT, 0, watched[i]);
                    p.set(ValueLayout.JAVA_SHORT, 4, Libc.POLLIN);
                    p.set(ValueLayout.JAVA_SHORT, 6, (short) 0);
                    if (watched[i] >= 0) {
                        n++;
                    }
                }
                boolean outputsOpen = watched[0] >= 0 || watched[1] >= 0;
                if (exited && !outputsOpen) {
                    break;
                }
                int timeout = exited ? DRAIN_QUIET_MILLIS : (pidFd < 0 ? 100 : -1);
                int ready = Libc.pollRaw(fds, 3, timeout);
                if (ready == -Errno.EINTR) {
                    continue;
                }
                if (ready < 0) {
                    throw new NativeException("poll", -ready);
                }
                if (ready == 0) {
                    if (exited && System.nanoTime() - quietSince >= DRAIN_QUIET_MILLIS * 1_000_000L) {
                        break;
                    }
                    if (!exited && pidFd < 0) {
                        int st = Spawn.waitpid(pid, Spawn.WNOHANG);
                        if (st != -1) {
                            status = st;
                            exited = true;
                            markReaped();
                            quietSince = System.nanoTime();
                        }
                    }
                    continue;
                }
                for (int i = 0; i < 2; i++) {
                    short revents = fds.get(ValueLayout.JAVA_SHORT, i * Libc.POLLFD.byteSize() + 6);
                    if (watched[i] < 0 || revents == 0) {
                        continue;
                    }
                    long r = Libc.readRaw(watched[i], buf, PIPE_READ);
                    if (r > 0) {
                        r = readMore(watched[i], buf, r, fds.asSlice(i * Libc.POLLFD.byteSize(), Libc.POLLFD.byteSize()));
                        publish(i, buf.asSlice(0, r));
                        quietSince = System.nanoTime();
                    } else if (r == 0 || (r < 0 && r != -Errno.EINTR && r != -Errno.EAGAIN)) {
                        // EOF on a pipe; EIO on a PTY master once no slave is open
                        watched[i] = -1;
                    }
                }
                short pidRevents = fds.get(ValueLayout.JAVA_SHORT, 2 * Libc.POLLFD.byteSize() + 6);
                if (watched[2] >= 0 && pidRevents != 0) {
                    status = Spawn.waitpid(pid, 0);
                    watched[2] = -1;
                    exited = true;
                    markReaped();
                    quietSince = System.nanoTime();
                }
            }
        } catch (RuntimeException | Error e) {
            LOG.log(Level.WARNING, "I/O of process " + pid + " failed", e);
            synchronized (this) {
                if (!reaped) {
                    Spawn.killRaw(pid, Spawn.SIGKILL);
                    status = Spawn.waitpid(pid, 0);
                    reaped = true;
                }
            }
        } finally {
            closeFds();
        }
        finish(ExitStatus.endEvent(status));
    }

    /** Appends what {@code fd} has ready right now (poll with timeout 0) to {@code buf[0, filled)}. */
    private static long readMore(int fd, MemorySegment buf, long filled, MemorySegment pollfd) {
        while (filled + PIPE_READ <= buf.byteSize()) {
            pollfd.set(ValueLayout.JAVA_SHORT, 6, (short) 0);
            if (Libc.pollRaw(pollfd, 1, 0) != 1
                    || (pollfd.get(ValueLayout.JAVA_SHORT, 6) & Libc.POLLIN) == 0) {
                break;
            }
            long r = Libc.readRaw(fd, buf.asSlice(filled), PIPE_READ);
            if (r <= 0) {
                break; // EOF/EIO is seen again by the main loop's next read
            }
            filled += r;
        }
        return filled;
    }

    private void publish(int stream, MemorySegment data) {
        ByteString bytes = ByteString.copyFrom(data.asByteBuffer());
        ProcessEvent.DataEvent.Builder d = ProcessEvent.DataEvent.newBuilder();
        if (pty) {
            d.setPty(bytes);
        } else if (stream == 0) {
            d.setStdout(bytes);
        } else {
            d.setStderr(bytes);
        }
        ProcessEvent event = ProcessEvent.newBuilder().setData(d).build();
        byte[] json = DataEventJson.encode(pty ? "pty" : stream == 0 ? "stdout" : "stderr", bytes);
        for (Subscriber s : subscribers) {
            if (!s.deliver(event, json)) {
                subscribers.remove(s);
            }
        }
    }

    private synchronized void markReaped() {
        reaped = true;
    }

    private void finish(ProcessEvent.EndEvent endEvent) {
        List<Subscriber> toEnd;
        synchronized (this) {
            end = endEvent;
            toEnd = List.copyOf(subscribers);
            subscribers.clear();
        }
        ProcessEvent event = ProcessEvent.newBuilder().setEnd(endEvent).build();
        byte[] json = ProcessEventJson.end(endEvent);
        for (Subscriber s : toEnd) {
            s.end(event, json);
        }
        List<Consumer<ManagedProcess>> callbacks;
        synchronized (this) {
            callbacks = endCallbacks;
            endCallbacks = null;
        }
        callbacks.forEach(c -> c.accept(this));
    }

    private void closeFds() {
        synchronized (inputLock) {
            closed = true;
            if (inputFd >= 0 && inputFd != outFd) {
                ProcessLauncher.closeQuietly(inputFd);
            }
            inputFd = -1;
            ProcessLauncher.closeQuietly(outFd);
            if (errFd >= 0) {
                ProcessLauncher.closeQuietly(errFd);
            }
            if (pidFd >= 0) {
                ProcessLauncher.closeQuietly(pidFd);
            }
        }
    }

    private ProcessEvent startEvent() {
        return ProcessEvent.newBuilder().setStart(ProcessEvent.StartEvent.newBuilder().setPid(pid)).build();
    }
}
