package io.sandboxd.daemon.orchestrator;

import io.sandboxd.api.sandbox.SandboxException;
import java.util.concurrent.Semaphore;
import java.util.function.Supplier;

/**
 * Bounds how many sandboxes start at once. A cold start (no warm sandbox left) boots envd's JVM, which is CPU
 * bound: twenty of them at once on a small host all miss their readiness deadline, while a few at a time each
 * finish quickly and the rest wait their turn. A warm start holds its permit only for a moment.
 */
final class StartLimiter {
    private final Semaphore permits;

    StartLimiter(int concurrent) {
        if (concurrent < 1) {
            throw new IllegalArgumentException("at least one start at a time, got " + concurrent);
        }
        this.permits = new Semaphore(concurrent, true);
    }

    static StartLimiter forHost() {
        return new StartLimiter(Math.max(2, Runtime.getRuntime().availableProcessors()));
    }

    <T> T run(Supplier<T> start) {
        try {
            permits.acquire();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new SandboxException(SandboxException.Reason.BUSY, "interrupted while waiting to start a sandbox");
        }
        try {
            return start.get();
        } finally {
            permits.release();
        }
    }
}
