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
    void aBuiltInTemplateRegisteredTwiceIsTheFirstRow() {
        TemplateRepository t = store.templates();
        var first = t.ensureBuiltIn("builtin", 2, 512);
        assertTrue(first.isPublic());
        assertNull(first.teamId());
        assertEquals(first, t.ensureBuiltIn("builtin", 4, 1024), "a second node's registration keeps the first row");
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

    @Test
    void snapshotsAreTemplatesKeptOutOfTheTemplateListAndFoundByKindAndSource() {
        TemplateRepository t = store.templates();
        var team = store.teams().ensureDefault();
        var other = store.teams().ensure("other");
        t.create("plain", team.id(), false, 1, 256, List.of("plain"));
        t.create("snap1", team.id(), false, 1, 256, List.of("my-snap"));
        t.create("fork1", team.id(), false, 1, 256, List.of());
        t.create("theirs", other.id(), false, 1, 256, List.of());
        t.markSnapshot("snap1", "sbx1", TemplateRepository.SnapshotKind.SNAPSHOT);
        t.markSnapshot("fork1", "sbx1", TemplateRepository.SnapshotKind.FORK);
        t.markSnapshot("theirs", "sbx9", TemplateRepository.SnapshotKind.SNAPSHOT);

        assertEquals(List.of("plain"), t.listVisible(team.id()).stream().map(TemplateRepository.TemplateRecord::id).toList());
        var snaps = t.snapshots(team.id(), TemplateRepository.SnapshotKind.SNAPSHOT);
        assertEquals(1, snaps.size(), "only the team's own snapshots, not its forks");
        assertEquals("snap1", snaps.getFirst().template().id());
        assertEquals("sbx1", snaps.getFirst().sourceSandboxId());
        assertEquals(List.of("fork1"), t.snapshots(team.id(), TemplateRepository.SnapshotKind.FORK).stream()
                .map(r -> r.template().id()).toList());
        assertEquals(TemplateRepository.SnapshotKind.FORK, t.snapshot("fork1").orElseThrow().kind());
        assertEquals(List.of("snap1", "theirs"), t.snapshotsOfKind(TemplateRepository.SnapshotKind.SNAPSHOT).stream()
                .map(r -> r.template().id()).toList());
        assertEquals(Optional.empty(), t.snapshot("plain"));

        t.delete("snap1");
        assertEquals(Optional.empty(), t.snapshot("snap1"), "the snapshot row goes with its template");
        assertThrows(StoreException.class, () -> t.markSnapshot("fork1x", "sbx1", TemplateRepository.SnapshotKind.FORK),
                "a snapshot row needs its template");
    }

    @Test
    void tagsNameBuildsMoveWhenAssignedAgainAndGoWithTheirBuild() {
        TemplateRepository t = store.templates();
        var team = store.teams().ensureDefault();
        t.create("tagged", team.id(), false, 1, 256, List.of("tagged"));
        var b1 = t.createBuild("tagged", 1, 256, 1024, "jail");
        var b2 = t.createBuild("tagged", 1, 256, 1024, "jail");
        t.setTag("tagged", "v1", b1.id());
        t.setTag("tagged", "stable", b1.id());
        assertEquals(List.of("stable", "v1"), t.tags("tagged").stream().map(TemplateRepository.TagRecord::tag).toList());
        t.setTag("tagged", "stable", b2.id());
        assertEquals(b2.id(), t.tags("tagged").getFirst().buildId(), "a tag assigned again moves");
        assertTrue(t.removeTag("tagged", "v1"));
        assertEquals(false, t.removeTag("tagged", "v1"));
        assertThrows(StoreException.class, () -> t.setTag("tagged", "default", b1.id()), "default is never stored");
        assertThrows(StoreException.class, () -> t.setTag("tagged", "Bad Tag", b1.id()));
        t.delete("tagged");
        assertEquals(List.of(), t.tags("tagged"));
    }
}
