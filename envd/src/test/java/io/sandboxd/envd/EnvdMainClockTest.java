package io.sandboxd.envd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sandboxd.envd.auth.UserDatabase;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * envd started on a host must never set the host's clock; only the daemon's sandbox agent (which passes
 * {@code --set-clock-from-init}) may. Drives the real command line, wiring and {@code /init} route with a recording
 * clock setter in place of {@code date -s}.
 */
class EnvdMainClockTest {
    /** An hour off: far beyond the tolerance, so only the policy decides. */
    private static final Instant HOST_TIME = Instant.now().minusSeconds(3600);

    @Test
    void standaloneEnvdNeverSetsTheClockFromInit() throws Exception {
        List<Instant> set = initWithSkewedTimestamp("--port", "0");
        assertTrue(set.isEmpty(), "a standalone envd set the clock to " + set);
    }

    @Test
    void theSandboxAgentSetsTheClockFromInit() throws Exception {
        List<Instant> set = initWithSkewedTimestamp("--port", "0", "--set-clock-from-init");
        assertEquals(List.of(HOST_TIME), set);
    }

    @Test
    void theWarmUpsOwnInitNeverSetsTheClockEvenInASandbox() throws Exception {
        EnvdMain main = parse("--set-clock-from-init");
        List<Instant> set = new CopyOnWriteArrayList<>();
        main.systemClock = set::add;
        EnvdState state = new EnvdState(System.getProperty("user.name"));
        state.beginWarmUp();
        Envd envd = Envd.start(new InetSocketAddress("127.0.0.1", 0), state, UserDatabase.system(), main.initClock());
        try {
            assertEquals(204, postInit(envd, HOST_TIME));
            assertTrue(set.isEmpty(), "the warm-up's stale timestamp set the clock to " + set);
        } finally {
            envd.close();
        }
    }

    @Test
    void envdsBuiltWithoutTheFlagDoNotSetTheClock() {
        assertFalse(parse().initClock().setsClock(), "the default of the command line");
        assertTrue(parse("--set-clock-from-init").initClock().setsClock());
    }

    private static EnvdMain parse(String... args) {
        EnvdMain main = new EnvdMain();
        new CommandLine(main).parseArgs(args);
        return main;
    }

    private static List<Instant> initWithSkewedTimestamp(String... args) throws Exception {
        EnvdMain main = parse(args);
        List<Instant> set = new CopyOnWriteArrayList<>();
        main.systemClock = set::add;
        Envd envd = Envd.start(new InetSocketAddress("127.0.0.1", 0), new EnvdState(System.getProperty("user.name")),
                UserDatabase.system(), main.initClock());
        try {
            assertEquals(204, postInit(envd, HOST_TIME));
            return List.copyOf(set);
        } finally {
            envd.close();
        }
    }

    private static int postInit(Envd envd, Instant timestamp) throws Exception {
        try (HttpClient http = HttpClient.newHttpClient()) {
            HttpRequest req = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + envd.address().getPort() + "/init"))
                    .header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString("{\"timestamp\":\"" + timestamp + "\"}")).build();
            return http.send(req, HttpResponse.BodyHandlers.discarding()).statusCode();
        }
    }
}
