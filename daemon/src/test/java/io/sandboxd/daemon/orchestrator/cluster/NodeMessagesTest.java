package io.sandboxd.daemon.orchestrator.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.sandboxd.api.auth.Team;
import io.sandboxd.api.sandbox.CreateSandbox;
import io.sandboxd.api.sandbox.LogEntry;
import io.sandboxd.api.sandbox.LogLevel;
import io.sandboxd.api.sandbox.LogQuery;
import io.sandboxd.api.sandbox.NetworkConfig;
import io.sandboxd.api.sandbox.OnTimeout;
import io.sandboxd.api.sandbox.Sandbox;
import io.sandboxd.api.sandbox.SandboxMetric;
import io.sandboxd.api.sandbox.VolumeMount;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** What crosses the node service comes out as it went in, absent values included. */
class NodeMessagesTest {
    @Test
    void aCreateSurvivesTheTrip() {
        CreateSandbox full = new CreateSandbox("mytpl:v2", Duration.ofSeconds(90), Map.of("k", "v"), Map.of("E", "1"),
                true, false, new NetworkConfig(false, List.of("1.2.3.4"), List.of("0.0.0.0/0"), "${PORT}-x"),
                OnTimeout.PAUSE, true, true, List.of(new VolumeMount("data", "/mnt/data")));
        assertEquals(full, NodeMessages.create(NodeMessages.create(new Team("t1", "default"), full)));
        CreateSandbox bare = new CreateSandbox(null, null, Map.of(), Map.of(), false, true, null, OnTimeout.KILL,
                false, false, List.of());
        assertEquals(bare, NodeMessages.create(NodeMessages.create(new Team("t1", null), bare)));
        assertEquals(new Team("t1", null), NodeMessages.team(NodeMessages.team(new Team("t1", null))));
    }

    @Test
    void repliesMetricsAndLogsSurviveTheTrip() {
        Sandbox s = new Sandbox("abc", "base", null, "0.5.0", "tok", null, "localhost");
        assertEquals(s, NodeMessages.sandbox(NodeMessages.sandbox(s)));
        SandboxMetric m = new SandboxMetric(Instant.ofEpochMilli(1_700_000_000_123L), 2, 12.5, 10, 20, 3, 40, 50);
        assertEquals(m, NodeMessages.metric(NodeMessages.metric(m)));
        LogEntry e = new LogEntry(Instant.ofEpochMilli(1_700_000_000_456L), LogLevel.WARN, "hello", Map.of("a", "b"));
        assertEquals(e, NodeMessages.log(NodeMessages.log(e)));
        LogQuery q = new LogQuery(Instant.ofEpochMilli(5), 100, LogQuery.Direction.BACKWARD, LogLevel.INFO, "x");
        assertEquals(q, NodeMessages.logs(NodeMessages.logs(new Team("t", "n"), "abc", q)));
        LogQuery open = new LogQuery(null, 10, LogQuery.Direction.FORWARD, null, null);
        assertEquals(open, NodeMessages.logs(NodeMessages.logs(new Team("t", "n"), "abc", open)));
    }
}
