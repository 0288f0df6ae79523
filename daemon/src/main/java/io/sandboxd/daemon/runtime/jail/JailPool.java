package io.sandboxd.daemon.runtime.jail;

import io.sandboxd.daemon.template.TemplateBuild;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * Started jails of one template build waiting to be claimed, and the creates waiting for one. A create takes a
 * ready jail, or else queues and gets the next jail any refill finishes (whichever is first), so creates beyond the
 * pool never start a jail each on their own and never wait behind a slower start than the earliest one. The
 * refill agents keep {@code ready + preparing} at {@code target + waiting}. Thread-safe (one monitor; every
 * operation is a few field updates).
 */
final class JailPool {
    private final TemplateBuild template;
    private final int target;
    private final ArrayDeque<Jail> ready = new ArrayDeque<>();
    private final ArrayDeque<CompletableFuture<Jail>> waiting = new ArrayDeque<>();
    private int preparing;
    /** When a create last took a ready jail ({@link System#nanoTime()}); meaningless until {@link #tookOnce}. */
    private long lastTakeNanos;
    private boolean tookOnce;

    JailPool(TemplateBuild template, int target) {
        this.template = template;
        this.target = target;
    }

    TemplateBuild template() {
        return template;
    }

    int target() {
        return target;
    }

    /** A ready jail, or null when the pool is empty. */
    synchronized Jail poll() {
        return tookReady(ready.pollFirst());
    }

    private Jail tookReady(Jail j) {
        if (j != null) {
            lastTakeNanos = System.nanoTime();
            tookOnce = true;
        }
        return j;
    }

    /**
     * How long, from {@code nowNanos}, a refill of this pool should still wait for creates to settle: none when a
     * create is waiting or no jail is ready (the refill is needed now) or no create took one within {@code
     * settleNanos}; else what is left of {@code settleNanos} since the last take.
     */
    synchronized long refillDueInNanos(long nowNanos, long settleNanos) {
        if (!waiting.isEmpty() || ready.isEmpty() || !tookOnce) {
            return 0;
        }
        return Math.max(0, lastTakeNanos + settleNanos - nowNanos);
    }

    /**
     * A ready jail now, or a future completed with the next jail a refill adds. A caller that gives up on the future
     * must {@link #cancel} it (a jail that reached it anyway goes back to the pool).
     */
    synchronized CompletableFuture<Jail> take() {
        Jail j = tookReady(ready.pollFirst());
        if (j != null) {
            return CompletableFuture.completedFuture(j);
        }
        CompletableFuture<Jail> f = new CompletableFuture<>();
        waiting.addLast(f);
        return f;
    }

    /** Withdraws a waiting take; a jail it already received returns to the pool. */
    void cancel(CompletableFuture<Jail> f) {
        synchronized (this) {
            if (waiting.remove(f)) {
                return;
            }
        }
        // add() or drain() took it off the queue and completes it right after.
        try {
            add(f.join());
        } catch (java.util.concurrent.CompletionException | java.util.concurrent.CancellationException drained) {
            // the pool was drained: nothing to give back
        }
    }

    /** A started jail: to the longest-waiting create, else to the pool. */
    void add(Jail jail) {
        CompletableFuture<Jail> w;
        synchronized (this) {
            w = waiting.pollFirst();
            if (w == null) {
                ready.addLast(jail);
                return;
            }
        }
        w.complete(jail); // outside the monitor: the waiter's continuation may run here
    }

    synchronized int readyCount() {
        return ready.size();
    }

    synchronized int waitingCount() {
        return waiting.size();
    }

    /** Reserves the right to prepare one more jail, if the pool (counting jails being prepared) is short. */
    synchronized boolean reserve() {
        if (ready.size() + preparing >= target + waiting.size()) {
            return false;
        }
        preparing++;
        return true;
    }

    synchronized void unreserve() {
        preparing--;
    }

    /** Takes every ready jail out; waiting creates fail with {@code cause}. */
    List<Jail> drain(RuntimeException cause) {
        List<Jail> out;
        List<CompletableFuture<Jail>> failed;
        synchronized (this) {
            out = new ArrayList<>(ready);
            ready.clear();
            failed = new ArrayList<>(waiting);
            waiting.clear();
        }
        failed.forEach(f -> f.completeExceptionally(cause));
        return out;
    }

    synchronized List<Jail> snapshot() {
        return List.copyOf(ready);
    }
}
