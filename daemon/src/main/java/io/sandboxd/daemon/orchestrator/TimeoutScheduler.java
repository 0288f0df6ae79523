package io.sandboxd.daemon.orchestrator;

import io.sandboxd.daemon.store.SandboxRepository.SandboxRecord;
import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Ends sandboxes whose TTL ran out: every {@link #PERIOD} it asks the store which running sandboxes expired and
 * hands each to the orchestrator (kill, or pause with autoPause) on a virtual thread, so one slow kill does not
 * delay the others. The store is the clock's source of truth, so TTLs survive restarts and edits need no timers.
 */
public final class TimeoutScheduler implements AutoCloseable {
    static final Duration PERIOD = Duration.ofMillis(500);
    private static final System.Logger LOG = System.getLogger(TimeoutScheduler.class.getName());
    private final Orchestrator orchestrator;
    private final ScheduledExecutorService ticker;
    private final ExecutorService workers = Executors.newThreadPerTaskExecutor(
            Thread.ofVirtual().name("sandbox-timeout-", 0).factory());
    private final java.util.Set<String> inFlight = java.util.concurrent.ConcurrentHashMap.newKeySet();

    private TimeoutScheduler(Orchestrator orchestrator) {
        this.orchestrator = orchestrator;
        this.ticker = Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().daemon().name("sandbox-ttl").factory());
    }

    public static TimeoutScheduler start(Orchestrator orchestrator) {
        TimeoutScheduler s = new TimeoutScheduler(orchestrator);
        s.ticker.scheduleWithFixedDelay(s::tick, PERIOD.toMillis(), PERIOD.toMillis(), TimeUnit.MILLISECONDS);
        return s;
    }

    private void tick() {
        try {
            for (SandboxRecord r : orchestrator.expired()) {
                if (inFlight.add(r.id())) {
                    workers.execute(() -> {
                        try {
                            orchestrator.expire(r);
                        } catch (RuntimeException e) {
                            LOG.log(Level.WARNING, "ending sandbox " + r.id() + " at its timeout failed: " + e.getMessage(), e);
                        } finally {
                            inFlight.remove(r.id());
                        }
                    });
                }
            }
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "reading expired sandboxes failed: " + e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        ticker.shutdownNow();
        workers.shutdown();
        try {
            if (!workers.awaitTermination(30, TimeUnit.SECONDS)) {
                workers.shutdownNow();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
