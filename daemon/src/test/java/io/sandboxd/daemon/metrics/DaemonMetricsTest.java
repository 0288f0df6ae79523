package io.sandboxd.daemon.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sandboxd.api.ApiServer;
import io.sandboxd.api.ApiServices;
import io.sandboxd.api.auth.KeyHash;
import io.sandboxd.api.auth.SandboxTokens;
import io.sandboxd.api.auth.Team;
import io.sandboxd.api.sandbox.CreateSandbox;
import io.sandboxd.api.sandbox.NetworkConfig;
import io.sandboxd.api.sandbox.OnTimeout;
import io.sandboxd.api.sandbox.SandboxException;
import io.sandboxd.daemon.TestClock;
import io.sandboxd.daemon.envd.EnvdException;
import io.sandboxd.daemon.orchestrator.Orchestrator;
import io.sandboxd.daemon.orchestrator.OrchestratorRouter;
import io.sandboxd.daemon.runtime.CapacityException;
import io.sandboxd.daemon.runtime.FakeRuntime;
import io.sandboxd.daemon.runtime.PoolLevel;
import io.sandboxd.daemon.runtime.SandboxRuntimeException;
import io.sandboxd.daemon.store.Store;
import io.sandboxd.daemon.store.StoreApiKeyStore;
import io.sandboxd.daemon.store.TestPostgres;
import io.sandboxd.testing.PrometheusText;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@code GET /metrics} of the daemon's API over real HTTP, read with a strict parser of the text format, while the
 * orchestrator (a fake runtime, a real store) creates, fails, pauses, resumes and kills sandboxes: every counter and
 * gauge is checked to move with what happened, not only to be there.
 */
class DaemonMetricsTest {
    static final String TEMPLATE = "tpl";
    Store store;
    FakeRuntime runtime;
    DaemonMetrics metrics;
    Orchestrator orchestrator;
    ApiServer server;
    Team team;
    String key;
    final AtomicReference<RuntimeException> initFailure = new AtomicReference<>();
    final HttpClient http = HttpClient.newHttpClient();

    @BeforeEach
    void start() throws Exception {
        TestClock clock = new TestClock(Instant.parse("2026-01-01T00:00:00Z"));
        store = Store.over(TestPostgres.freshDatabase());
        team = store.teams().ensureDefault();
        key = store.keys().create(KeyHash.API_KEY, team, "t").plaintext();
        runtime = new FakeRuntime("jail", clock);
        metrics = new DaemonMetrics();
        orchestrator = new Orchestrator(store, runtime, new SandboxTokens(new byte[32]), (a, i) -> {
            RuntimeException f = initFailure.getAndSet(null);
            if (f != null) {
                throw f;
            }
        }, "sandbox.test", clock, null, metrics);
        orchestrator.registerTemplate(runtime.prepareTemplate(TEMPLATE, l -> { }), 1, 128);
        server = ApiServer.start(new InetSocketAddress("127.0.0.1", 0),
                ApiServices.of(orchestrator, new StoreApiKeyStore(store.keys())).withMetrics(metrics), 1);
    }

    @AfterEach
    void stop() {
        server.close();
        orchestrator.close();
        runtime.close();
        store.close();
    }

    HttpResponse<String> get(String path, String apiKey) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + path));
        if (apiKey != null) {
            b.header("X-API-KEY", apiKey);
        }
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    /** A scrape as Prometheus makes it: no credentials. */
    PrometheusText scrape() throws Exception {
        HttpResponse<String> r = get("/metrics", null);
        assertEquals(200, r.statusCode(), r.body());
        assertEquals("text/plain; version=0.0.4; charset=utf-8", r.headers().firstValue("Content-Type").orElse(""));
        return PrometheusText.parse(r.body());
    }

    String create() {
        return orchestrator.create(team, new CreateSandbox(TEMPLATE, Duration.ofMinutes(5), Map.of(), Map.of(), false,
                true, NetworkConfig.DEFAULT, OnTimeout.KILL, false, false, List.of())).sandboxId();
    }

    @Test
    void theExpositionParsesAndNamesEveryFamilyWithItsType() throws Exception {
        runtime.poolLevels(List.of(new PoolLevel("base", 1, 0, 0, 1)), 0);
        get("/health", null);
        PrometheusText m = scrape();
        Map<String, String> want = Map.ofEntries(
                Map.entry("sandboxd_sandboxes", "gauge"),
                Map.entry("sandboxd_sandbox_creates_total", "counter"),
                Map.entry("sandboxd_sandbox_create_duration_seconds", "histogram"),
                Map.entry("sandboxd_sandbox_kills_total", "counter"),
                Map.entry("sandboxd_sandbox_pauses_total", "counter"),
                Map.entry("sandboxd_sandbox_resumes_total", "counter"),
                Map.entry("sandboxd_sandbox_operation_failures_total", "counter"),
                Map.entry("sandboxd_envd_errors_total", "counter"),
                Map.entry("sandboxd_http_requests_total", "counter"),
                Map.entry("sandboxd_pool_ready", "gauge"),
                Map.entry("sandboxd_pool_starting", "gauge"),
                Map.entry("sandboxd_pool_waiting_creates", "gauge"),
                Map.entry("sandboxd_pool_target", "gauge"),
                Map.entry("sandboxd_pool_start_failures_total", "counter"));
        want.forEach((name, type) -> assertEquals(type, m.family(name).type(), name));
        // known series start at zero: a rate over them works from the first scrape
        assertEquals(0, m.value("sandboxd_sandbox_kills_total", "cause", "timeout"));
        assertEquals(1, m.family("sandboxd_sandbox_kills_total").samples().stream()
                .filter(s -> s.labels().equals(Map.of("cause", "timeout"))).count());
        assertEquals(1, m.family("sandboxd_sandbox_creates_total").samples().stream()
                .filter(s -> s.labels().equals(Map.of("result", "ok"))).count());
        // every state is there, at zero, before any sandbox exists
        for (String state : List.of("running", "paused", "creating", "pausing", "resuming", "killing")) {
            assertEquals(0, m.value("sandboxd_sandboxes", "state", state), state);
            assertEquals(1, m.family("sandboxd_sandboxes").samples().stream()
                    .filter(s -> s.labels().equals(Map.of("state", state))).count(), state);
        }
    }

    @Test
    void createsKillsPausesAndResumesMoveTheirCountersAndTheStateGauge() throws Exception {
        String a = create();
        String b = create();
        PrometheusText m = scrape();
        assertEquals(2, m.value("sandboxd_sandboxes", "state", "running"));
        assertEquals(2, m.value("sandboxd_sandbox_creates_total", "result", "ok"));
        assertEquals(2, m.value("sandboxd_sandbox_create_duration_seconds_count"));
        assertEquals(2, m.value("sandboxd_sandbox_create_duration_seconds_bucket", "le", "+Inf"));
        assertTrue(m.value("sandboxd_sandbox_create_duration_seconds_sum") > 0);

        orchestrator.pause(team, a, true);
        m = scrape();
        assertEquals(1, m.value("sandboxd_sandboxes", "state", "running"));
        assertEquals(1, m.value("sandboxd_sandboxes", "state", "paused"));
        assertEquals(1, m.value("sandboxd_sandbox_pauses_total", "cause", "request"));

        orchestrator.connect(team, a, Duration.ofMinutes(1), true);
        orchestrator.kill(team, b);
        m = scrape();
        assertEquals(1, m.value("sandboxd_sandbox_resumes_total", "cause", "request"));
        assertEquals(1, m.value("sandboxd_sandbox_kills_total", "cause", "request"));
        assertEquals(1, m.value("sandboxd_sandboxes", "state", "running"));
        assertEquals(0, m.value("sandboxd_sandboxes", "state", "paused"));

        orchestrator.kill(team, a);
        assertEquals(0, scrape().value("sandboxd_sandboxes", "state", "running"));
        assertEquals(2, scrape().value("sandboxd_sandbox_kills_total", "cause", "request"));
    }

    @Test
    void failedCreatesAreCountedByTheReasonTheClientGotAndEnvdErrorsByCall() throws Exception {
        runtime.failNextCreate(new CapacityException("no jail became ready"));
        assertThrows(SandboxException.class, this::create);
        initFailure.set(new EnvdException("/init answered 500"));
        assertThrows(SandboxException.class, this::create);
        assertThrows(SandboxException.class, () -> orchestrator.create(team, new CreateSandbox("nosuch",
                Duration.ofMinutes(5), Map.of(), Map.of(), false, true, NetworkConfig.DEFAULT, OnTimeout.KILL, false,
                false, List.of())));
        String ok = create();
        runtime.sandbox(ok).failNext(new SandboxRuntimeException("the freezer refused"));
        assertThrows(SandboxException.class, () -> orchestrator.pause(team, ok, true));

        PrometheusText m = scrape();
        assertEquals(1, m.value("sandboxd_sandbox_creates_total", "result", "busy"));
        assertEquals(1, m.value("sandboxd_sandbox_creates_total", "result", "agent_failed"));
        assertEquals(1, m.value("sandboxd_sandbox_creates_total", "result", "not_found"));
        assertEquals(1, m.value("sandboxd_sandbox_creates_total", "result", "ok"));
        assertEquals(1, m.value("sandboxd_sandbox_create_duration_seconds_count"), "only successful creates");
        assertEquals(1, m.value("sandboxd_envd_errors_total", "call", "init"));
        assertEquals(1, m.value("sandboxd_sandbox_operation_failures_total", "operation", "pause"));
        assertEquals(0, m.value("sandboxd_sandbox_pauses_total", "cause", "request"), "a failed pause is no pause");
        assertEquals(1, m.value("sandboxd_sandboxes", "state", "running"));
    }

    @Test
    void trafficThatCannotReachEnvdIsAnEnvdErrorAndOtherPortsAreNot() throws Exception {
        String id = create();
        try (OrchestratorRouter router = new OrchestratorRouter(orchestrator)) {
            router.unreachable(id, 49983);
            router.unreachable(id, 8080); // the user's own server not listening is not envd's failure
        }
        PrometheusText m = scrape();
        assertEquals(1, m.value("sandboxd_envd_errors_total", "call", "proxy"));
        assertEquals(0, m.value("sandboxd_envd_errors_total", "call", "init"));
    }

    @Test
    void poolGaugesReadTheRuntimeAtEachScrape() throws Exception {
        runtime.poolLevels(List.of(new PoolLevel("base", 2, 1, 0, 3), new PoolLevel("py", 0, 1, 4, 1)), 0);
        PrometheusText m = scrape();
        assertEquals(2, m.value("sandboxd_pool_ready", "template", "base"));
        assertEquals(1, m.value("sandboxd_pool_starting", "template", "base"));
        assertEquals(3, m.value("sandboxd_pool_target", "template", "base"));
        assertEquals(4, m.value("sandboxd_pool_waiting_creates", "template", "py"));
        runtime.poolLevels(List.of(new PoolLevel("base", 0, 3, 0, 3)), 5);
        m = scrape();
        assertEquals(0, m.value("sandboxd_pool_ready", "template", "base"));
        assertEquals(3, m.value("sandboxd_pool_starting", "template", "base"));
        assertEquals(5, m.value("sandboxd_pool_start_failures_total"));
        assertEquals(1, m.family("sandboxd_pool_ready").samples().size(), "a template gone is not reported");
    }

    @Test
    void requestsAreCountedByRouteTemplateAndStatusNeverByRawPath() throws Exception {
        String id = create();
        assertEquals(200, get("/sandboxes/" + id, key).statusCode());
        assertEquals(404, get("/sandboxes/nosuchsandbox000", key).statusCode());
        assertEquals(401, get("/sandboxes/" + id, null).statusCode());
        assertEquals(404, get("/made/up/path/" + System.nanoTime(), key).statusCode());
        PrometheusText m = scrape();
        String route = "/sandboxes/{sandboxID}";
        assertEquals(1, m.value("sandboxd_http_requests_total", "method", "GET", "route", route, "status", "200"));
        assertEquals(1, m.value("sandboxd_http_requests_total", "method", "GET", "route", route, "status", "404"));
        assertEquals(1, m.value("sandboxd_http_requests_total", "method", "GET", "route", route, "status", "401"));
        assertEquals(1, m.value("sandboxd_http_requests_total", "method", "GET", "route", "unmatched", "status", "404"));
        assertTrue(m.family("sandboxd_http_requests_total").samples().stream()
                .noneMatch(s -> s.labels().get("route").contains("made")), "raw paths never become labels");
        // the scrape before this one is counted too
        assertEquals(1, scrape().value("sandboxd_http_requests_total", "method", "GET", "route", "/metrics",
                "status", "200"));
    }
}
