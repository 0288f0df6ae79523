package io.sandboxd.daemon.pool;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * Ready items of one key (started jails of one template build, VM shells, network slots) waiting to be claimed, and
 * the creates waiting for one. A create takes a ready item, or else queues and gets the next item any refill
 * finishes (whichever is first), so creates beyond the pool never make an item each on their own and never wait
 * behind a slower start than the earliest one. The refill agents keep {@code ready + preparing} at {@code target +
 * waiting}. Thread-safe (one monitor; every operation is a few field updates).
 *
 * @param <K> what the items are made from
 * @param <T> the item
 */
public final class WarmPool<K, T> {
    private final K key;
    private final int target;
    private final ArrayDeque<T> ready = new ArrayDeque<>();
    private final ArrayDeque<CompletableFuture<T>> waiting = new ArrayDeque<>();
    private int preparing;
    /** When a create last took a ready item ({@link System#nanoTime()}); meaningless until {@link #tookOnce}. */
    private long lastTakeNanos;
    private boolean tookOnce;

    public WarmPool(K key, int target) {
        this.key = key;
        this.target = target;
    }

    public K key() {
        return key;
    }

    public int target() {
        return target;
    }

    /** A ready item, or null when the pool is empty. */
    public synchronized T poll() {
        return tookReady(ready.pollFirst());
    }

    private T tookReady(T j) {
        if (j != null) {
            lastTakeNanos = System.nanoTime();
            tookOnce = true;
        }
        return j;
    }

    /**
     * How long, from {@code nowNanos}, a refill of this pool should still wait for creates to settle: none when a
     * create is waiting or no item is ready (the refill is needed now) or no create took one within {@code
     * settleNanos}; else what is left of {@code settleNanos} since the last take.
     */
    public synchronized long refillDueInNanos(long nowNanos, long settleNanos) {
        if (!waiting.isEmpty() || ready.isEmpty() || !tookOnce) {
            return 0;
        }
        return Math.max(0, lastTakeNanos + settleNanos - nowNanos);
    }

    /**
     * A ready item now, or a future completed with the next item a refill adds. A caller that gives up on the future
     * must {@link #cancel} it (a item that reached it anyway goes back to the pool).
     */
    public synchronized CompletableFuture<T> take() {
        T j = tookReady(ready.pollFirst());
        if (j != null) {
            return CompletableFuture.completedFuture(j);
        }
        CompletableFuture<T> f = new CompletableFuture<>();
        waiting.addLast(f);
        return f;
    }

    /** Withdraws a waiting take; a item it already received returns to the pool. */
    public void cancel(CompletableFuture<T> f) {
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

    /** A started item: to the longest-waiting create, else to the pool. */
    public void add(T item) {
        CompletableFuture<T> w;
        synchronized (this) {
            w = waiting.pollFirst();
            if (w == null) {
                ready.addLast(item);
                return;
            }
        }
        w.complete(item); // outside the monitor: the waiter's continuation may run here
    }

    public synchronized int readyCount() {
        return ready.size();
    }

    /** Items being prepared for this pool right now. */
    public synchronized int preparingCount() {
        return preparing;
    }

    public synchronized int waitingCount() {
        return waiting.size();
    }

    /** Reserves the right to prepare one more item, if the pool (counting items being prepared) is short. */
    public synchronized boolean reserve() {
        if (ready.size() + preparing >= target + waiting.size()) {
            return false;
        }
        preparing++;
        return true;
    }

    public synchronized void unreserve() {
        preparing--;
    }

    /** Takes every ready item out; waiting creates fail with {@code cause}. */
    public List<T> drain(RuntimeException cause) {
        List<T> out;
        List<CompletableFuture<T>> failed;
        synchronized (this) {
            out = new ArrayList<>(ready);
            ready.clear();
            failed = new ArrayList<>(waiting);
            waiting.clear();
        }
        failed.forEach(f -> f.completeExceptionally(cause));
        return out;
    }

    public synchronized List<T> snapshot() {
        return List.copyOf(ready);
    }
}
