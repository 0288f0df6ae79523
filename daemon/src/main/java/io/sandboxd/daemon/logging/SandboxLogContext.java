package io.sandboxd.daemon.logging;

import java.util.Optional;
import java.util.function.Supplier;

/**
 * The sandbox a piece of work is about, for the logs: the orchestrator binds it where it acts for one sandbox, and
 * every log line written inside (the orchestrator's, the runtime's, the network's) carries the ID without each
 * message having to name it. A {@link ScopedValue}, so it ends with the work and never leaks to the next task of a
 * pooled thread; it is not inherited by other threads (a pool refill is about no sandbox).
 */
public final class SandboxLogContext {
    private static final ScopedValue<String> SANDBOX_ID = ScopedValue.newInstance();

    private SandboxLogContext() {
    }

    /** The sandbox the current work is about, if any. */
    public static Optional<String> sandboxId() {
        return SANDBOX_ID.isBound() ? Optional.of(SANDBOX_ID.get()) : Optional.empty();
    }

    /** Runs {@code work} with its logs about {@code sandboxId}. */
    public static <T> T call(String sandboxId, Supplier<T> work) {
        return ScopedValue.where(SANDBOX_ID, sandboxId).call(work::get);
    }

    /** Runs {@code work} with its logs about {@code sandboxId}. */
    public static void run(String sandboxId, Runnable work) {
        ScopedValue.where(SANDBOX_ID, sandboxId).run(work);
    }
}
