package io.sandboxd.daemon.orchestrator.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The catalog against a real Redis: heartbeats that expire, routes that heal, dead nodes' sandboxes marked once. */
class ClusterCatalogTest {
    @TempDir
    static Path dir;
    static TestRedis redis;

    @BeforeAll
    static void start() throws Exception {
        redis = TestRedis.start(dir);
    }

    @AfterAll
    static void stop() throws Exception {
        if (redis != null) {
            redis.close();
        }
    }

    private static NodeInfo node(String id, int hosted) {
        return new NodeInfo(id, "10.0.0.1:5008", "10.0.0.1:3002", 8, hosted, Set.of("base"), false);
    }

    @Test
    void aNodeWhoseHeartbeatExpiresIsDeadAndItsSandboxesAreMarkedLostOnce() throws Exception {
        try (ClusterCatalog c = new ClusterCatalog(redis.url(), "t1")) {
            c.heartbeat(node("a", 1), Duration.ofSeconds(30));
            c.heartbeat(node("b", 2), Duration.ofMillis(300));
            c.syncRoutes("a", Set.of("sa"));
            c.syncRoutes("b", Set.of("sb1", "sb2"));
            assertEquals(List.of("a", "b"), c.membership().live().stream().map(NodeInfo::id).toList());
            assertEquals(new ClusterCatalog.Route.OnNode("b"), c.routeOf("sb1"));

            Thread.sleep(600);
            ClusterCatalog.Membership m = c.membership();
            assertEquals(Set.of("b"), m.dead());
            assertEquals(Optional.empty(), m.node("b"));
            Instant at = Instant.parse("2026-12-07T06:00:00Z");
            assertEquals(Set.of("sb1", "sb2"), Set.copyOf(c.markLost("b", at)));
            assertEquals(List.of(), c.markLost("b", at), "a second node finds nothing left to mark");
            assertEquals(new ClusterCatalog.Route.Lost("node b stopped answering at " + at), c.routeOf("sb2"));
            assertEquals(new ClusterCatalog.Route.OnNode("a"), c.routeOf("sa"));

            // b comes back and adopts sb1: routed again, no longer lost
            c.heartbeat(node("b", 1), Duration.ofSeconds(30));
            c.syncRoutes("b", Set.of("sb1"));
            assertEquals(new ClusterCatalog.Route.OnNode("b"), c.routeOf("sb1"));
            assertEquals(Set.of("sb2"), c.lost().keySet());
            assertEquals(java.util.Map.of("b", 1L), c.lostByNode());
        }
    }

    @Test
    void routesFollowWhatTheNodeRunsAndLeaveIsImmediate() {
        try (ClusterCatalog c = new ClusterCatalog(redis.url(), "t2")) {
            c.heartbeat(node("a", 0), Duration.ofSeconds(30));
            c.route("s1", "a");
            c.route("s2", "a");
            c.syncRoutes("a", Set.of("s2", "s3"));
            assertEquals(new ClusterCatalog.Route.Unknown(), c.routeOf("s1"));
            assertEquals(new ClusterCatalog.Route.OnNode("a"), c.routeOf("s3"));
            c.unroute("s3", "other-node");
            assertEquals(new ClusterCatalog.Route.OnNode("a"), c.routeOf("s3"), "only the owner unroutes");
            assertEquals("a", c.node("a").orElseThrow().id(), "one node's heartbeat is read as it is now");
            c.leave("a");
            assertEquals(Set.of("a"), c.membership().dead());
            assertTrue(c.node("a").isEmpty(), "a node that left has no heartbeat");
        }
    }

    @Test
    void drainingAndTheSecretsFingerprint() {
        try (ClusterCatalog c = new ClusterCatalog(redis.url(), "t3")) {
            c.heartbeat(node("a", 0), Duration.ofSeconds(30));
            c.setDraining("a", true);
            assertTrue(c.membership().node("a").orElseThrow().draining());
            assertFalse(c.membership().node("a").orElseThrow().accepts());
            c.setDraining("a", false);
            assertTrue(c.membership().node("a").orElseThrow().accepts());

            assertEquals(Optional.empty(), c.checkFingerprint("f1"));
            assertEquals(Optional.empty(), c.checkFingerprint("f1"));
            assertEquals(Optional.of("f1"), c.checkFingerprint("f2"));
        }
    }
}
