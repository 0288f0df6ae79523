package io.sandboxd.daemon.logging;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.sandboxd.api.auth.SandboxTokens;
import io.sandboxd.api.auth.Team;
import io.sandboxd.api.sandbox.CreateSandbox;
import io.sandboxd.api.sandbox.NetworkConfig;
import io.sandboxd.api.sandbox.OnTimeout;
import io.sandboxd.daemon.TestClock;
import io.sandboxd.daemon.orchestrator.Orchestrator;
import io.sandboxd.daemon.runtime.FakeRuntime;
import io.sandboxd.daemon.store.Store;
import io.sandboxd.daemon.store.TestPostgres;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.logging.StreamHandler;
import org.junit.jupiter.api.Test;

/** {@code serve --log-format json}: one JSON object per line, with the sandbox ID where the work is about one. */
class JsonLogFormatterTest {
    static final ObjectMapper JSON = new ObjectMapper();

    /** A logger of its own whose records go through the JSON formatter into a buffer. */
    record Captured(Logger logger, StreamHandler handler, ByteArrayOutputStream out) implements AutoCloseable {
        static Captured of(String name) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            StreamHandler h = new StreamHandler(out, new JsonLogFormatter());
            h.setLevel(Level.ALL);
            Logger l = Logger.getLogger(name);
            l.setLevel(Level.ALL);
            l.addHandler(h);
            return new Captured(l, h, out);
        }

        List<JsonNode> lines() throws Exception {
            handler.flush();
            String text = out.toString(StandardCharsets.UTF_8);
            assertTrue(text.isEmpty() || text.endsWith("\n"), "every record ends its line");
            List<JsonNode> lines = new ArrayList<>();
            for (String line : text.split("\n")) {
                if (!line.isEmpty()) {
                    JsonNode n = JSON.readTree(line);
                    assertTrue(n.isObject(), line);
                    lines.add(n);
                }
            }
            return lines;
        }

        @Override
        public void close() {
            logger.removeHandler(handler);
            logger.setLevel(null);
        }
    }

    @Test
    void eachRecordIsOneObjectWithTimeLevelLoggerMessageAndTheSandboxWhenThereIsOne() throws Exception {
        try (Captured c = Captured.of("sandboxd.test.json")) {
            c.logger().info("plain \"quoted\"\nsecond line");
            SandboxLogContext.run("sbxm0000000000000001", () -> c.logger().warning("about one sandbox"));
            // a thread started inside does not inherit the context: a pool refill is about no sandbox
            SandboxLogContext.run("sbxm0000000000000002", () ->
                    CompletableFuture.runAsync(() -> c.logger().fine("elsewhere")).join());
            c.logger().log(Level.SEVERE, "failed", new IllegalStateException("boom"));
            c.logger().finer("very detailed");

            List<JsonNode> lines = c.lines();
            assertEquals(5, lines.size(), "a message with a newline is still one line");
            JsonNode first = lines.get(0);
            assertEquals("INFO", first.get("level").asText());
            assertEquals("sandboxd.test.json", first.get("logger").asText());
            assertEquals("plain \"quoted\"\nsecond line", first.get("message").asText());
            Instant t = Instant.parse(first.get("time").asText());
            assertTrue(Duration.between(t, Instant.now()).abs().toMinutes() < 1, "time is now, ISO-8601");
            assertFalse(first.has("sandboxId"));
            assertEquals("WARN", lines.get(1).get("level").asText());
            assertEquals("sbxm0000000000000001", lines.get(1).get("sandboxId").asText());
            assertEquals("DEBUG", lines.get(2).get("level").asText());
            assertFalse(lines.get(2).has("sandboxId"));
            assertEquals("ERROR", lines.get(3).get("level").asText());
            assertTrue(lines.get(3).get("error").asText().contains("IllegalStateException: boom"));
            assertEquals("TRACE", lines.get(4).get("level").asText());
        }
    }

    @Test
    void whatTheOrchestratorAndTheRuntimeLogWhileCreatingCarriesTheNewSandboxesId() throws Exception {
        TestClock clock = new TestClock(Instant.parse("2026-01-01T00:00:00Z"));
        try (Store store = Store.over(TestPostgres.freshDatabase());
             Captured c = Captured.of(Orchestrator.class.getName());
             Captured init = Captured.of("sandboxd.test.init")) {
            Team team = store.teams().ensureDefault();
            FakeRuntime runtime = new FakeRuntime("jail", clock);
            // the envd client stands in for code below the orchestrator that logs on the create's thread
            Orchestrator orchestrator = new Orchestrator(store, runtime, new SandboxTokens(new byte[32]),
                    (a, i) -> init.logger().info("init " + a), "sandbox.test", clock);
            orchestrator.registerTemplate(runtime.prepareTemplate("tpl", l -> { }), 1, 128);
            String id = orchestrator.create(team, new CreateSandbox("tpl", Duration.ofMinutes(5), Map.of(), Map.of(),
                    false, true, NetworkConfig.DEFAULT, OnTimeout.KILL, false, false, List.of())).sandboxId();
            orchestrator.close();
            runtime.close();

            List<JsonNode> created = c.lines().stream()
                    .filter(n -> n.get("message").asText().startsWith("create " + id)).toList();
            assertEquals(1, created.size(), "the create's step timings: " + c.lines());
            assertEquals(id, created.getFirst().get("sandboxId").asText());
            assertEquals(1, init.lines().size());
            assertEquals(id, init.lines().getFirst().get("sandboxId").asText());
        }
    }
}
