package io.sandboxd.daemon.pool;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The refill agents' one step ({@link PoolRefiller#doWork()}) over any kind of item, driven by hand. */
class PoolRefillerTest {
    /** Makes numbered strings; fails while {@code failing} is set; records what it was asked. */
    static final class Counter implements PoolItemFactory<String, String> {
        final AtomicInteger made = new AtomicInteger();
        final List<Boolean> forWaiting = new CopyOnWriteArrayList<>();
        final List<String> discarded = new CopyOnWriteArrayList<>();
        volatile boolean failing;

        @Override
        public String make(String key, boolean forWaitingCreate) {
            if (failing) {
                throw new IllegalStateException("cannot make a " + key);
            }
            forWaiting.add(forWaitingCreate);
            return key + made.incrementAndGet();
        }

        @Override
        public void discard(String item) {
            discarded.add(item);
        }

        @Override
        public String describe(String key) {
            return "key " + key;
        }
    }

    @Test
    void fillsEachPoolToItsTargetAndThenRests() {
        WarmPool<String, String> a = new WarmPool<>("a", 2);
        WarmPool<String, String> b = new WarmPool<>("b", 1);
        Counter f = new Counter();
        PoolRefiller<String, String> r = new PoolRefiller<>("test", () -> List.of(a, b), f, 1, Duration.ZERO);
        int steps = 0;
        while (r.doWork() == 1) {
            steps++;
        }
        assertEquals(3, steps);
        assertEquals(2, a.readyCount());
        assertEquals(1, b.readyCount());
        assertEquals(0, r.doWork(), "full: nothing to do");
    }

    @Test
    void aWaitingCreateGetsTheNextItemMadeForIt() {
        WarmPool<String, String> p = new WarmPool<>("p", 0);
        Counter f = new Counter();
        PoolRefiller<String, String> r = new PoolRefiller<>("test", () -> List.of(p), f, 1, Duration.ZERO);
        assertEquals(0, r.doWork(), "a pool of zero stays empty");
        CompletableFuture<String> take = p.take();
        assertEquals(1, r.doWork());
        assertEquals("p1", take.join());
        assertEquals(List.of(true), f.forWaiting, "made as a waited-for item");
        assertEquals(0, p.readyCount());
    }

    @Test
    void failuresAreCountedAndKeptForTheMessageThenTheNextSuccessClearsTheBackoff() {
        WarmPool<String, String> p = new WarmPool<>("p", 1);
        Counter f = new Counter();
        PoolRefiller<String, String> r = new PoolRefiller<>("test", () -> List.of(p), f, 1, Duration.ZERO);
        f.failing = true;
        assertEquals(0, r.doWork());
        assertEquals(0, r.doWork());
        assertEquals(2, r.errors());
        assertTrue(r.lastError().getMessage().contains("cannot make a p"), r.lastError().getMessage());
        f.failing = false;
        assertEquals(1, r.doWork(), "the reservation of a failed make was released");
        assertEquals(1, p.readyCount());
    }

    @Test
    void aStoppedRefillerDiscardsWhatItMakes() {
        WarmPool<String, String> p = new WarmPool<>("p", 1);
        Counter f = new Counter();
        PoolRefiller<String, String> r = new PoolRefiller<>("test", () -> List.of(p), f, 1, Duration.ZERO);
        r.stop();
        assertEquals(0, r.doWork());
        assertEquals(0, p.readyCount());
    }

    @Test
    void agentsRunOnPlatformThreadsAndStop() throws Exception {
        WarmPool<String, String> p = new WarmPool<>("p", 3);
        Counter f = new Counter();
        PoolRefiller<String, String> r = new PoolRefiller<>("test", () -> List.of(p), f, 2, Duration.ZERO);
        r.startThreads();
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (p.readyCount() < 3 && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        r.stop();
        assertEquals(3, p.readyCount());
        assertTrue(Thread.getAllStackTraces().keySet().stream().noneMatch(t -> t.getName().startsWith("test-pool-refill-")),
                "agents ended");
    }
}
