package io.sandboxd.ffi;

import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicReference;

/** Runs per-thread kernel state changes (namespaces, prctl) on a throwaway platform thread that dies afterwards. */
final class TestThreads {
    private TestThreads() {
    }

    static <T> T onFreshPlatformThread(Callable<T> work) throws Exception {
        AtomicReference<T> result = new AtomicReference<>();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread t = Thread.ofPlatform().name("sandboxd-test-scratch").start(() -> {
            try {
                result.set(work.call());
            } catch (Throwable e) {
                failure.set(e);
            }
        });
        t.join();
        if (failure.get() instanceof Exception e) {
            throw e;
        }
        if (failure.get() instanceof Error e) {
            throw e;
        }
        return result.get();
    }
}
