package io.sandboxd.daemon.cli.admin;

import static io.sandboxd.daemon.cli.CliRun.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sandboxd.daemon.cli.CliRun;
import io.sandboxd.daemon.orchestrator.cluster.ClusterCatalog;
import io.sandboxd.daemon.orchestrator.cluster.NodeInfo;
import io.sandboxd.daemon.orchestrator.cluster.TestRedis;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code sandboxd node list|drain} against a real Redis holding a cluster's catalog. */
class NodeCommandTest {
    @Test
    void listsLiveAndDeadNodesAndDrainsOne(@TempDir Path dir) throws Exception {
        try (TestRedis redis = TestRedis.start(dir);
             ClusterCatalog c = new ClusterCatalog(redis.url(), ClusterCatalog.PREFIX)) {
            c.heartbeat(new NodeInfo("a", "10.0.0.1:5008", "10.0.0.1:3002", 8, 2, Set.of("base"), false),
                    Duration.ofMinutes(1));
            c.heartbeat(new NodeInfo("b", "10.0.0.2:5008", "10.0.0.2:3002", 8, 1, Set.of("base"), false),
                    Duration.ofMillis(200));
            c.syncRoutes("b", Set.of("s1"));
            Thread.sleep(400);
            c.markLost("b", Instant.now());

            CliRun list = run("node", "list", "--redis", redis.url());
            assertEquals(0, list.exit(), list.err());
            assertTrue(list.out().matches("(?s).*\\na +ready +10\\.0\\.0\\.1:5008 +10\\.0\\.0\\.1:3002 +2/8 +base\\n.*"),
                    list.out());
            assertTrue(list.out().matches("(?s).*\\nb +dead .*1 lost.*"), list.out());

            CliRun drain = run("node", "drain", "a", "--redis", redis.url());
            assertEquals(0, drain.exit(), drain.err());
            assertTrue(c.membership().node("a").orElseThrow().draining());
            CliRun json = run("node", "list", "--redis", redis.url(), "--format", "json");
            assertTrue(json.out().contains("\"state\" : \"draining\""), json.out());
            assertEquals(0, run("node", "drain", "a", "--undo", "--redis", redis.url()).exit());
            assertTrue(c.membership().node("a").orElseThrow().accepts());

            CliRun unknown = run("node", "drain", "zz", "--redis", redis.url());
            assertEquals(ExitCode.NOT_FOUND, unknown.exit());
            assertTrue(unknown.err().contains("no node 'zz'"), unknown.err());
        }
    }

    @Test
    void withoutARedisItSaysHowToNameOne() {
        CliRun r = run("node", "list", "--redis", "redis://127.0.0.1:1");
        assertEquals(ExitCode.UNREACHABLE, r.exit());
        assertTrue(r.err().contains("does not answer"), r.err());
    }
}
