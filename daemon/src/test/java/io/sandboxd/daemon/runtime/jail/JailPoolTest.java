package io.sandboxd.daemon.runtime.jail;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import org.junit.jupiter.api.Test;

class JailPoolTest {
    private static Jail jail(String id) {
        return new Jail(id, Path.of("/nonexistent", id), null, null, null);
    }

    @Test
    void readyJailsGoFirstAndWaitersGetTheNextInOrder() {
        JailPool pool = new JailPool(null, 1);
        Jail a = jail("a");
        pool.add(a);
        assertSame(a, pool.take().join());
        CompletableFuture<Jail> first = pool.take();
        CompletableFuture<Jail> second = pool.take();
        assertFalse(first.isDone());
        assertEquals(2, pool.waitingCount());
        Jail b = jail("b");
        Jail c = jail("c");
        pool.add(b);
        pool.add(c);
        assertSame(b, first.join());
        assertSame(c, second.join());
        assertEquals(0, pool.readyCount(), "handed to waiters, not pooled");
    }

    @Test
    void refillsCoverTheTargetPlusWaitingCreates() {
        JailPool pool = new JailPool(null, 1);
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
    void aCancelledTakeGivesBackAJailThatReachedItAnyway() {
        JailPool pool = new JailPool(null, 0);
        CompletableFuture<Jail> gaveUp = pool.take();
        pool.cancel(gaveUp);
        assertEquals(0, pool.waitingCount());
        Jail a = jail("a");
        pool.add(a);
        assertSame(a, pool.poll(), "no waiter left: pooled");

        CompletableFuture<Jail> late = pool.take();
        pool.add(a);
        pool.cancel(late);
        assertSame(a, pool.poll(), "the jail the cancelled take received is pooled again");
        assertNull(pool.poll());
    }

    @Test
    void drainFailsWaitingCreates() {
        JailPool pool = new JailPool(null, 2);
        pool.add(jail("a"));
        pool.take();
        CompletableFuture<Jail> waiting = pool.take();
        assertEquals(0, pool.drain(new IllegalStateException("closed")).size());
        CompletionException e = assertThrows(CompletionException.class, waiting::join);
        assertEquals("closed", e.getCause().getMessage());
    }

    @Test
    void aPoolWithJailsLeftWaitsForCreatesToSettleBeforeARefill() {
        long settle = 500_000_000L;
        JailPool pool = new JailPool(null, 3);
        assertEquals(0, pool.refillDueInNanos(System.nanoTime(), settle), "nothing taken yet: due now");
        pool.add(jail("a"));
        pool.add(jail("b"));
        pool.add(jail("c"));
        pool.take().join();
        long now = System.nanoTime();
        long due = pool.refillDueInNanos(now, settle);
        assertTrue(due > 0 && due <= settle, "just taken, two left: wait up to the settle time, was " + due);
        assertEquals(0, pool.refillDueInNanos(now + settle, settle), "settled");
        pool.poll();
        assertTrue(pool.refillDueInNanos(System.nanoTime(), settle) > 0, "a poll is a take too");
        pool.take().join();
        assertEquals(0, pool.refillDueInNanos(System.nanoTime(), settle), "none ready: due now");
        CompletableFuture<Jail> waiter = pool.take();
        assertFalse(waiter.isDone());
        assertEquals(0, pool.refillDueInNanos(System.nanoTime(), settle), "a create is waiting: due now");
    }
}
