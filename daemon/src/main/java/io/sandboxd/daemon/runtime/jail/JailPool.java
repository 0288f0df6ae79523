package io.sandboxd.daemon.runtime.jail;

import io.sandboxd.daemon.template.TemplateBuild;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Started jails of one template build waiting to be claimed. Creates take from the head; the refill agent adds
 * at the tail. Thread-safe.
 */
final class JailPool {
    private final TemplateBuild template;
    private final int target;
    private final ConcurrentLinkedDeque<Jail> ready = new ConcurrentLinkedDeque<>();
    private final AtomicInteger preparing = new AtomicInteger();

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
    Jail poll() {
        return ready.pollFirst();
    }

    void add(Jail jail) {
        ready.addLast(jail);
    }

    int readyCount() {
        return ready.size();
    }

    /** Reserves the right to prepare one more jail, if the pool (counting jails being prepared) is short. */
    boolean reserve() {
        while (true) {
            int p = preparing.get();
            if (ready.size() + p >= target) {
                return false;
            }
            if (preparing.compareAndSet(p, p + 1)) {
                return true;
            }
        }
    }

    void unreserve() {
        preparing.decrementAndGet();
    }

    List<Jail> drain() {
        List<Jail> out = new ArrayList<>();
        Jail j;
        while ((j = ready.pollFirst()) != null) {
            out.add(j);
        }
        return out;
    }

    List<Jail> snapshot() {
        return List.copyOf(ready);
    }
}
