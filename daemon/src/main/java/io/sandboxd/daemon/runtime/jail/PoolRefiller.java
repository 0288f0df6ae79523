package io.sandboxd.daemon.runtime.jail;

import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.util.Collection;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;

/**
 * Keeps the pools full, one jail at a time (jail starts compete with sandboxes for CPU, so they are not run in
 * parallel). An agent: {@link #doWork()} prepares at most one jail and says whether it did; the thread sleeps
 * when there is nothing to do and is woken by a create that took a jail. A failing prepare is counted, logged
 * and retried after a growing pause, so a broken template does not spin the CPU.
 */
final class PoolRefiller implements Runnable {
    private static final Logger LOG = System.getLogger(PoolRefiller.class.getName());
    private static final long IDLE_WAIT_MS = 1000;
    private static final long MAX_BACKOFF_MS = 30_000;

    private final Supplier<Collection<JailPool>> pools;
    private final JailFactory factory;
    private final AtomicLong errors = new AtomicLong();
    private final Object signal = new Object();
    private volatile boolean running = true;
    private volatile RuntimeException lastError;
    private boolean woken;
    private long backoffMs;
    private Thread thread;

    PoolRefiller(Supplier<Collection<JailPool>> pools, JailFactory factory) {
        this.pools = pools;
        this.factory = factory;
    }

    void startThread() {
        thread = Thread.ofPlatform().name("jail-pool-refill").daemon(true).start(this);
    }

    void wake() {
        synchronized (signal) {
            woken = true;
            signal.notifyAll();
        }
    }

    /** Prepares one jail for the first pool that is short. Returns 1 if it did, 0 if every pool is full. */
    int doWork() {
        for (JailPool pool : pools.get()) {
            if (!running) {
                return 0;
            }
            if (!pool.reserve()) {
                continue;
            }
            try {
                Jail jail = factory.prepare(pool.template());
                try {
                    factory.start(jail);
                } catch (RuntimeException e) {
                    destroyQuietly(jail, e);
                    throw e;
                }
                if (running) {
                    pool.add(jail);
                } else {
                    factory.destroy(jail);
                }
                backoffMs = 0;
                return 1;
            } catch (RuntimeException e) {
                errors.incrementAndGet();
                lastError = e;
                backoffMs = backoffMs == 0 ? 500 : Math.min(MAX_BACKOFF_MS, backoffMs * 2);
                LOG.log(Level.WARNING, "preparing a jail for template " + pool.template().templateId() + " failed (retry in "
                        + backoffMs + " ms): " + e.getMessage(), e);
                return 0;
            } finally {
                pool.unreserve();
            }
        }
        return 0;
    }

    @Override
    public void run() {
        while (running) {
            int work = doWork();
            if (work == 0) {
                synchronized (signal) {
                    long wait = backoffMs > 0 ? backoffMs : IDLE_WAIT_MS;
                    if (!woken && running) {
                        try {
                            signal.wait(wait);
                        } catch (InterruptedException e) {
                            return;
                        }
                    }
                    woken = false;
                }
            }
        }
    }

    /** Stops the thread after the jail it is preparing (if any) is done. */
    void stop() {
        running = false;
        wake();
        if (thread != null) {
            try {
                thread.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    long errors() {
        return errors.get();
    }

    RuntimeException lastError() {
        return lastError;
    }

    private void destroyQuietly(Jail jail, RuntimeException cause) {
        try {
            factory.destroy(jail);
        } catch (RuntimeException e) {
            cause.addSuppressed(e);
        }
    }
}
