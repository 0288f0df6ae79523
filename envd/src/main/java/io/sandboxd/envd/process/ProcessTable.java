package io.sandboxd.envd.process;

import io.sandboxd.envd.connect.ConnectCode;
import io.sandboxd.envd.connect.ConnectException;
import io.sandboxd.envd.proto.process.ProcessSelector;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The processes envd started, by pid. A process stays here {@link #RETAIN_ENDED_SECONDS} after it ended so a late
 * {@code Connect} still gets its end event (spec 3.5).
 */
public final class ProcessTable implements AutoCloseable {
    static final long RETAIN_ENDED_SECONDS = 30;

    private final Map<Integer, ManagedProcess> byPid = new ConcurrentHashMap<>();
    private final ScheduledExecutorService reaper = timer();
    private final long retainNanos;
    /** How late a sweep may run: it then drops every process retained long enough, one timer wake for many ends. */
    private final long slackNanos;
    /** Ended processes in the order they ended, which is the order they are due to leave. */
    private final Queue<Retained> retained = new ConcurrentLinkedQueue<>();
    private final AtomicBoolean sweepScheduled = new AtomicBoolean();

    private record Retained(ManagedProcess process, long dropAtNanos) {
    }

    public ProcessTable() {
        this(TimeUnit.SECONDS.toMillis(RETAIN_ENDED_SECONDS));
    }

    ProcessTable(long retainMillis) {
        this.retainNanos = TimeUnit.MILLISECONDS.toNanos(retainMillis);
        this.slackNanos = Math.min(TimeUnit.SECONDS.toNanos(1), retainNanos / 10);
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
        p.onEnd(this::retain);
    }

    /**
     * Keeps an ended process for the retention time. One sweep is pending at a time, instead of a timer task per
     * command: each task woke the timer thread once per command on a machine where every wake-up competes with
     * the commands themselves.
     */
    private void retain(ManagedProcess ended) {
        retained.add(new Retained(ended, System.nanoTime() + retainNanos));
        if (sweepScheduled.compareAndSet(false, true)) {
            schedule(this::sweep, retainNanos + slackNanos);
        }
    }

    private void sweep() {
        long now = System.nanoTime();
        Retained r;
        while ((r = retained.peek()) != null && r.dropAtNanos() - now <= 0) {
            retained.poll();
            byPid.remove(r.process().pid(), r.process());
        }
        // cleared before looking again: a process retained meanwhile either sees false and schedules, or is seen here
        sweepScheduled.set(false);
        Retained next = retained.peek();
        if (next != null && sweepScheduled.compareAndSet(false, true)) {
            schedule(this::sweep, Math.max(0, next.dropAtNanos() - now) + slackNanos);
        }
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
