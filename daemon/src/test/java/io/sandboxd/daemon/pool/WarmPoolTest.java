package io.sandboxd.daemon.pool;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import org.junit.jupiter.api.Test;

class WarmPoolTest {
    /** A stand-in item: the pool only moves items around. */
    record Item(String id) {}

    private static Item item(String id) {
        return new Item(id);
    }

    @Test
    void readyItemsGoFirstAndWaitersGetTheNextInOrder() {
        WarmPool<String, Item> pool = new WarmPool<>("key", 1);
        Item a = item("a");
        pool.add(a);
        assertSame(a, pool.take().join());
        CompletableFuture<Item> first = pool.take();
        CompletableFuture<Item> second = pool.take();
        assertFalse(first.isDone());
        assertEquals(2, pool.waitingCount());
        Item b = item("b");
        Item c = item("c");
        pool.add(b);
        pool.add(c);
        assertSame(b, first.join());
        assertSame(c, second.join());
        assertEquals(0, pool.readyCount(), "handed to waiters, not pooled");
    }

    @Test
    void refillsCoverTheTargetPlusWaitingCreates() {
        WarmPool<String, Item> pool = new WarmPool<>("key", 1);
        assertTrue(pool.reserve());
        assertFalse(pool.reserve(), "one being prepared fills a pool of one");
        pool.take();
        pool.take();
        assertTrue(pool.reserve());
        assertTrue(pool.reserve());
        assertFalse(pool.reserve(), "1 pooled + 2 waiting = 3 being prepared");
        pool.unreserve();
        assertTrue(pool.reserve());
    }

    @Test
    void aCancelledTakeGivesBackAnItemThatReachedItAnyway() {
        WarmPool<String, Item> pool = new WarmPool<>("key", 0);
        CompletableFuture<Item> gaveUp = pool.take();
        pool.cancel(gaveUp);
        assertEquals(0, pool.waitingCount());
        Item a = item("a");
        pool.add(a);
        assertSame(a, pool.poll(), "no waiter left: pooled");

        CompletableFuture<Item> late = pool.take();
        pool.add(a);
        pool.cancel(late);
        assertSame(a, pool.poll(), "the jail the cancelled take received is pooled again");
        assertNull(pool.poll());
    }

    @Test
    void drainFailsWaitingCreates() {
        WarmPool<String, Item> pool = new WarmPool<>("key", 2);
        pool.add(item("a"));
        pool.take();
        CompletableFuture<Item> waiting = pool.take();
        assertEquals(0, pool.drain(new IllegalStateException("closed")).size());
        CompletionException e = assertThrows(CompletionException.class, waiting::join);
        assertEquals("closed", e.getCause().getMessage());
    }

    @Test
    void aPoolWithItemsLeftWaitsForCreatesToSettleBeforeARefill() {
        long settle = 500_000_000L;
        WarmPool<String, Item> pool = new WarmPool<>("key", 3);
        assertEquals(0, pool.refillDueInNanos(System.nanoTime(), settle), "nothing taken yet: due now");
        pool.add(item("a"));
        pool.add(item("b"));
        pool.add(item("c"));
        pool.take().join();
        long now = System.nanoTime();
        long due = pool.refillDueInNanos(now, settle);
        assertTrue(due > 0 && due <= settle, "just taken, two left: wait up to the settle time, was " + due);
        assertEquals(0, pool.refillDueInNanos(now + settle, settle), "settled");
        pool.poll();
        assertTrue(pool.refillDueInNanos(System.nanoTime(), settle) > 0, "a poll is a take too");
        pool.take().join();
        assertEquals(0, pool.refillDueInNanos(System.nanoTime(), settle), "none ready: due now");
        CompletableFuture<Item> waiter = pool.take();
        assertFalse(waiter.isDone());
        assertEquals(0, pool.refillDueInNanos(System.nanoTime(), settle), "a create is waiting: due now");
    }
}
