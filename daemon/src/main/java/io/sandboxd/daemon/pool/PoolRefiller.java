package io.sandboxd.daemon.pool;

import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;

/**
 * Keeps the pools full (and serves creates waiting on an empty pool) with a fixed number of agents, each making
 * one item at a time. A jail start is mostly envd's JVM booting, which is CPU bound: as many agents as the host has
 * CPUs finish a burst soonest; more only make every start slower. {@link #doWork()} makes at most one item and
 * says whether it did; agents sleep when there is nothing to do and are woken by a create that took or wants an item.
 * A failing prepare is counted, logged and retried after a growing pause, so a broken template does not spin the CPU.
 *
 * <p>A pool that still has ready items is refilled only once creates have left it alone for the settle time
 * ({@link #SETTLE_DEFAULT}). Starting a jail is ~100 ms of mounts, a network namespace and runc processes, then a
 * second of JVM start; started at once, all of that landed on the claimed sandbox's {@code /init} and first
 * commands (on 2 cores, create → first {@code commands.run} p50 62-73 ms against 47-49 ms with a 500 ms settle,
 * side by side). An empty pool or a create waiting for a jail is refilled at once.
 */
public final class PoolRefiller<K, T> {
    private static final Logger LOG = System.getLogger(PoolRefiller.class.getName());
    private static final long IDLE_WAIT_MS = 1000;
    private static final long MAX_BACKOFF_MS = 30_000;
    /** How long a pool that still has ready items waits after a create took one before it is refilled. */
    public static final Duration SETTLE_DEFAULT = Duration.ofMillis(500);

    private final String name;
    private final Supplier<? extends Collection<WarmPool<K, T>>> pools;
    private final PoolItemFactory<K, T> factory;
    private final int agents;
    private final long settleNanos;
    private final AtomicLong errors = new AtomicLong();
    private final Object signal = new Object();
    private final List<Thread> threads = new ArrayList<>();
    private volatile boolean running = true;
    private volatile RuntimeException lastError;
    private long wakeups;
    private long backoffMs;

    /** @param name names the agent threads ({@code <name>-pool-refill-N}) */
    public PoolRefiller(String name, Supplier<? extends Collection<WarmPool<K, T>>> pools, PoolItemFactory<K, T> factory,
                        int agents, Duration settle) {
        if (agents < 1) {
            throw new IllegalArgumentException("at least one refill agent, got " + agents);
        }
        if (settle.isNegative()) {
            throw new IllegalArgumentException("negative settle time " + settle);
        }
        this.name = name;
        this.pools = pools;
        this.factory = factory;
        this.agents = agents;
        this.settleNanos = settle.toNanos();
    }

    public void startThreads() {
        for (int i = 0; i < agents; i++) {
            threads.add(Thread.ofPlatform().name(name + "-pool-refill-" + i).daemon(true).start(this::run));
        }
    }

    public int agents() {
        return agents;
    }

    public void wake() {
        synchronized (signal) {
            wakeups++;
            signal.notifyAll();
        }
    }

    /**
     * Makes one item for the first pool that is short and due (see the settle time). Returns 1 if it did, 0 if
     * every pool is full or still settling.
     */
    public int doWork() {
        long now = System.nanoTime();
        for (WarmPool<K, T> pool : pools.get()) {
            if (!running) {
                return 0;
            }
            if (pool.refillDueInNanos(now, settleNanos) > 0 || !pool.reserve()) {
                continue;
            }
            try {
                T item = factory.make(pool.key(), pool.waitingCount() > 0);
                if (running) {
                    pool.add(item);
                } else {
                    factory.discard(item);
                }
                synchronized (signal) {
                    backoffMs = 0;
                }
                return 1;
            } catch (RuntimeException e) {
                errors.incrementAndGet();
                lastError = e;
                long wait;
                synchronized (signal) {
                    backoffMs = backoffMs == 0 ? 500 : Math.min(MAX_BACKOFF_MS, backoffMs * 2);
                    wait = backoffMs;
                }
                LOG.log(Level.WARNING, "preparing a " + name + " for " + factory.describe(pool.key()) + " failed (retry in "
                        + wait + " ms): " + e.getMessage(), e);
                return 0;
            } finally {
                pool.unreserve();
            }
        }
        return 0;
    }

    private void run() {
        while (running) {
            long seen;
            synchronized (signal) {
                seen = wakeups;
            }
            if (doWork() == 0) {
                long settling = settlingMillis();
                synchronized (signal) {
                    long wait = backoffMs > 0 ? backoffMs : Math.min(IDLE_WAIT_MS, settling);
                    // A wake-up that came while this agent was busy is not lost: it looks again at once.
                    if (wakeups == seen && running) {
                        try {
                            signal.wait(wait);
                        } catch (InterruptedException e) {
                            return;
                        }
                    }
                }
            }
        }
    }

    /** Until the soonest pool that is settling is due, rounded up to a ms; {@link #IDLE_WAIT_MS} if none is. */
    private long settlingMillis() {
        long now = System.nanoTime();
        long soonest = Long.MAX_VALUE;
        for (WarmPool<K, T> pool : pools.get()) {
            long due = pool.refillDueInNanos(now, settleNanos);
            if (due > 0) {
                soonest = Math.min(soonest, due);
            }
        }
        return soonest == Long.MAX_VALUE ? IDLE_WAIT_MS : Math.max(1, (soonest + 999_999) / 1_000_000);
    }

    /** Stops the agents after the items they are making (if any) are done. */
    public void stop() {
        running = false;
        wake();
        for (Thread t : threads) {
            try {
                t.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    public long errors() {
        return errors.get();
    }

    public RuntimeException lastError() {
        return lastError;
    }
}
