package io.sandboxd.envd.process;

import io.sandboxd.envd.connect.ConnectCode;
import io.sandboxd.envd.connect.ConnectException;
import io.sandboxd.envd.proto.process.ProcessSelector;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * The processes envd started, by pid. A process stays here {@link #RETAIN_ENDED_SECONDS} after it ended so a late
 * {@code Connect} still gets its end event (spec 3.5).
 */
public final class ProcessTable implements AutoCloseable {
    static final long RETAIN_ENDED_SECONDS = 30;

    private final Map<Integer, ManagedProcess> byPid = new ConcurrentHashMap<>();
    private final ScheduledExecutorService reaper = timer();
    private final long retainMillis;

    public ProcessTable() {
        this(TimeUnit.SECONDS.toMillis(RETAIN_ENDED_SECONDS));
    }

    ProcessTable(long retainMillis) {
        this.retainMillis = retainMillis;
    }

    /**
     * The SDK gives every command a 60 s deadline, so each one schedules a kill that is cancelled when it ends:
     * cancelled tasks leave the queue at once instead of piling up for a minute (and waking the timer) per command.
     */
    private static ScheduledExecutorService timer() {
        ScheduledThreadPoolExecutor t = new ScheduledThreadPoolExecutor(1, r -> {
            Thread th = new Thread(r, "envd-process-table");
            th.setDaemon(true);
            return th;
        });
        t.setRemoveOnCancelPolicy(true);
        return t;
    }

    /** Adds a started process; it is dropped {@code retain} after its end. */
    void add(ManagedProcess p) {
        byPid.put(p.pid(), p);
        p.onEnd(ended -> schedule(() -> byPid.remove(ended.pid(), ended), TimeUnit.MILLISECONDS.toNanos(retainMillis)));
    }

    /** SIGKILLs {@code p} (and its process group) after {@code delay}, unless it ended by then. */
    void killAt(ManagedProcess p, java.time.Duration delay) {
        java.util.concurrent.Future<?> kill = schedule(() -> p.signal(io.sandboxd.ffi.Spawn.SIGKILL),
                Math.max(0, delay.toNanos()));
        p.onEnd(ended -> kill.cancel(false));
    }

    /** Running processes, by pid. */
    public List<ManagedProcess> live() {
        return byPid.values().stream().filter(p -> !p.hasEnded())
                .sorted(Comparator.comparingInt(ManagedProcess::pid)).toList();
    }

    /**
     * The process a selector names, running or recently ended.
     *
     * @throws ConnectException {@code not_found} for an unknown pid/tag, {@code invalid_argument} for an empty selector
     */
    public ManagedProcess find(ProcessSelector selector) {
        return switch (selector.getSelectorCase()) {
            case PID -> {
                ManagedProcess p = byPid.get(selector.getPid());
                if (p == null) {
                    throw new ConnectException(ConnectCode.NOT_FOUND, "process with pid " + selector.getPid() + " not found");
                }
                yield p;
            }
            case TAG -> byPid.values().stream().filter(p -> selector.getTag().equals(p.tag()))
                    // a running process wins over an ended one with the same tag
                    .min(Comparator.comparing(ManagedProcess::hasEnded))
                    .orElseThrow(() -> new ConnectException(ConnectCode.NOT_FOUND,
                            "process with tag '" + selector.getTag() + "' not found"));
            case SELECTOR_NOT_SET -> throw new ConnectException(ConnectCode.INVALID_ARGUMENT,
                    "process selector needs a pid or a tag");
        };
    }

    /** A process that has not ended, else {@code not_found}. */
    public ManagedProcess findRunning(ProcessSelector selector) {
        ManagedProcess p = find(selector);
        if (p.hasEnded()) {
            throw new ConnectException(ConnectCode.NOT_FOUND, "process " + p.pid() + " has already ended");
        }
        return p;
    }

    /** Schedules on the table's timer; after {@link #close()} nothing is scheduled any more. */
    private java.util.concurrent.Future<?> schedule(Runnable task, long delayNanos) {
        try {
            return reaper.schedule(task, delayNanos, TimeUnit.NANOSECONDS);
        } catch (java.util.concurrent.RejectedExecutionException shuttingDown) {
            return java.util.concurrent.CompletableFuture.completedFuture(null);
        }
    }

    /** Kills every process still running (envd is shutting down). */
    @Override
    public void close() {
        for (ManagedProcess p : live()) {
            p.signal(io.sandboxd.ffi.Spawn.SIGKILL);
        }
        reaper.shutdownNow();
    }
}
