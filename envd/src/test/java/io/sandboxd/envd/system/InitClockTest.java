package io.sandboxd.envd.system;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class InitClockTest {
    private static final long NOW = Instant.parse("2026-01-01T00:00:00Z").toEpochMilli();

    @Test
    void neverIgnoresAnySkew() throws Exception {
        InitClock never = InitClock.never().withNow(() -> NOW);
        assertFalse(never.setsClock());
        never.correct(Instant.ofEpochMilli(NOW - 3_600_000)); // would need a setter: nothing to call, nothing thrown
    }

    @Test
    void aSandboxClockIsSetOnlyBeyondTheTolerance() throws Exception {
        List<Instant> set = new ArrayList<>();
        InitClock clock = InitClock.setWith(set::add).withNow(() -> NOW);
        assertTrue(clock.setsClock());
        clock.correct(Instant.ofEpochMilli(NOW + InitClock.TOLERANCE_MILLIS));
        clock.correct(Instant.ofEpochMilli(NOW - InitClock.TOLERANCE_MILLIS));
        assertTrue(set.isEmpty(), "within the tolerance: " + set);
        Instant behind = Instant.ofEpochMilli(NOW + InitClock.TOLERANCE_MILLIS + 1);
        clock.correct(behind);
        assertEquals(List.of(behind), set);
    }

    @Test
    void aFailingSetterIsLoggedNotThrown() throws Exception {
        InitClock clock = InitClock.setWith(t -> {
            throw new java.io.IOException("EPERM");
        }).withNow(() -> NOW);
        clock.correct(Instant.ofEpochMilli(NOW - 10_000));
    }
}
