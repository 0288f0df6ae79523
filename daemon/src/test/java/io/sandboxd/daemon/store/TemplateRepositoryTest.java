package io.sandboxd.daemon.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sandboxd.daemon.store.TemplateRepository.BuildStatus;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class TemplateRepositoryTest extends FreshStoreTest {
    @Test
    void templatesAreFoundByIdOrAlias() {
        TemplateRepository t = store.templates();
        var base = t.create("rki5dems9wqfm4r03t7g", null, true, 2, 512, List.of("base"));
        assertEquals(List.of("base"), base.aliases());
        assertNull(base.teamId());
        assertEquals(Optional.of(base), t.findByIdOrAlias("base"));
        assertEquals(Optional.of(base), t.findByIdOrAlias("rki5dems9wqfm4r03t7g"));
        assertEquals(Optional.empty(), t.findByIdOrAlias("nope"));
        var team = store.teams().ensureDefault();
        var mine = t.create("abc", team.id(), false, 1, 256, List.of());
        assertEquals(team.id(), mine.teamId());
        assertThrows(StoreException.class, () -> t.create("other", null, false, 1, 256, List.of("base")),
                "an alias names one template");
        assertEquals(Optional.empty(), t.findByIdOrAlias("other"), "the failed create left nothing behind");
        assertThrows(StoreException.class, () -> t.create("Bad-ID", null, false, 1, 256, List.of()));
    }

    @Test
    void buildsMoveToReadyAndTheNewestReadyOneIsUsed() {
        TemplateRepository t = store.templates();
        t.create("base1", null, true, 2, 512, List.of("base"));
        var first = t.createBuild("base1", 2, 512, 1024, "jail");
        assertEquals(BuildStatus.WAITING, first.status());
        assertEquals(Optional.empty(), t.latestReadyBuild("base1"));
        t.updateBuild(first.id(), BuildStatus.BUILDING, null, null);
        var ready = t.updateBuild(first.id(), BuildStatus.READY, null, "0.6.13");
        assertNotNull(ready.finishedAt());
        assertEquals("0.6.13", ready.envdVersion());
        var second = t.createBuild("base1", 2, 512, 1024, "jail");
        var failed = t.updateBuild(second.id(), BuildStatus.ERROR, "debootstrap failed", null);
        assertEquals("debootstrap failed", failed.reason());
        assertEquals(first.id(), t.latestReadyBuild("base1").orElseThrow().id());
        assertEquals(2, t.builds("base1").size());
        assertThrows(IllegalArgumentException.class,
                () -> t.updateBuild(java.util.UUID.randomUUID(), BuildStatus.READY, null, null));
        assertTrue(t.findBuild(second.id()).isPresent());
    }
}
