package io.sandboxd.daemon.template.build;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import org.junit.jupiter.api.Test;

class BuildLogTest {
    private final Clock clock = Clock.fixed(Instant.parse("2026-12-07T00:00:00Z"), ZoneOffset.UTC);

    @Test
    void pagesFromAnOffset() {
        BuildLog log = new BuildLog(clock);
        log.info("one", "base");
        log.error("two", "step 1");
        assertEquals(List.of(new BuildLog.Entry(clock.instant(), "info", "one", "base"),
                new BuildLog.Entry(clock.instant(), "error", "two", "step 1")), log.from(0));
        assertEquals("two", log.from(1).getFirst().message());
        assertEquals(List.of(), log.from(2));
        assertEquals(List.of(), log.from(99));
    }

    @Test
    void aFloodIsCutWithOneWarning() {
        BuildLog log = new BuildLog(clock);
        for (int i = 0; i < BuildLog.MAX_ENTRIES + 500; i++) {
            log.info("line " + i, "step 1");
        }
        List<BuildLog.Entry> all = log.from(0);
        assertEquals(BuildLog.MAX_ENTRIES + 1, all.size());
        assertEquals("warn", all.getLast().level());
        assertEquals("line " + (BuildLog.MAX_ENTRIES - 1), all.get(BuildLog.MAX_ENTRIES - 1).message());
    }
}
