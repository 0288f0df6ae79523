package io.sandboxd.daemon.template.build;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LayerCacheTest {
    @TempDir
    Path root;

    private static final String HASH = StepHash.of(StepHash.ofBase("base", "b"), new Step("RUN", List.of("ls"), null, false));

    @Test
    void aLayerCountsOnlyOnceCommitted() throws Exception {
        LayerCache cache = new LayerCache(root, "team-1");
        assertEquals(Optional.empty(), cache.find(HASH));
        Path tmp = cache.begin(HASH);
        Files.writeString(tmp.resolve("fs/file"), "built");
        assertEquals(Optional.empty(), cache.find(HASH), "work in progress is not a layer");
        Path fs = cache.commit(HASH, tmp);
        assertEquals(Optional.of(fs), cache.find(HASH));
        assertEquals("built", Files.readString(fs.resolve("file")));
        assertFalse(Files.exists(fs.resolveSibling("work")), "overlay work dirs are not kept");
    }

    @Test
    void aForcedRebuildReplacesTheOldLayer() throws Exception {
        LayerCache cache = new LayerCache(root, "team-1");
        Path first = cache.begin(HASH);
        Files.writeString(first.resolve("fs/old"), "1");
        cache.commit(HASH, first);
        Path second = cache.begin(HASH);
        Files.writeString(second.resolve("fs/new"), "2");
        Path fs = cache.commit(HASH, second);
        assertTrue(Files.exists(fs.resolve("new")));
        assertFalse(Files.exists(fs.resolve("old")));
    }

    @Test
    void teamsHaveSeparateLayers() throws Exception {
        LayerCache a = new LayerCache(root, "team-a");
        a.commit(HASH, a.begin(HASH));
        assertTrue(a.find(HASH).isPresent());
        assertTrue(new LayerCache(root, "team-b").find(HASH).isEmpty(), "one team's files never become another's");
    }

    @Test
    void keysAndTeamsThatCouldNameOtherPathsAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> new LayerCache(root, "../x"));
        assertThrows(IllegalArgumentException.class, () -> new LayerCache(root, ""));
        LayerCache cache = new LayerCache(root, "t");
        assertThrows(IllegalArgumentException.class, () -> cache.find("../../etc"));
        assertThrows(IllegalArgumentException.class, () -> cache.begin("ABC"));
    }
}
