package io.sandboxd.daemon.orchestrator.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;

class PlacementTest {
    private static NodeInfo node(String id, int hosted, int capacity, Set<String> templates, boolean draining) {
        return new NodeInfo(id, id + ":5008", id + ":3002", capacity, hosted, templates, draining);
    }

    @Test
    void theLeastLoadedNodeWithTheTemplateWins() {
        List<NodeInfo> live = List.of(node("a", 5, 10, Set.of("base"), false), node("b", 1, 10, Set.of("base"), false),
                node("c", 0, 10, Set.of("other"), false));
        assertEquals("b", Placement.choose(live, "base", "a").orElseThrow().id());
        assertEquals("c", Placement.choose(live, "other", "a").orElseThrow().id());
    }

    @Test
    void onATieTheRequestsOwnNodeWinsThenTheLowestId() {
        List<NodeInfo> live = List.of(node("a", 1, 10, Set.of("base"), false), node("b", 1, 10, Set.of("base"), false),
                node("c", 1, 10, Set.of("base"), false));
        assertEquals("b", Placement.choose(live, "base", "b").orElseThrow().id());
        assertEquals("a", Placement.choose(live, "base", "zz").orElseThrow().id());
    }

    @Test
    void fullAndDrainingNodesAreSkippedAndTheReasonSaysWhy() {
        List<NodeInfo> live = List.of(node("a", 10, 10, Set.of("base"), false), node("b", 0, 10, Set.of("base"), true));
        assertEquals(Optional.empty(), Placement.choose(live, "base", "a"));
        String why = Placement.whyNone(live, "base", "base");
        assertTrue(why.contains("a 10/10") && why.contains("b 0/10 draining"), why);
        assertTrue(Placement.whyNone(live, "gpu", "gpu").contains("ready on no live node"));
        assertTrue(Placement.whyNone(List.of(), "base", "base").contains("no node"));
    }

    @Test
    void anUnknownTemplateGoesAnywhereSoTheCreateCanSayNotFound() {
        List<NodeInfo> live = List.of(node("a", 3, 10, Set.of("base"), false), node("b", 2, 10, Set.of(), false));
        assertEquals("b", Placement.choose(live, null, "a").orElseThrow().id());
    }
}
