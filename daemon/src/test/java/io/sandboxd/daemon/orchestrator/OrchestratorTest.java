package io.sandboxd.daemon.orchestrator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sandboxd.daemon.envd.EnvdClient;
import io.sandboxd.api.auth.SandboxTokens;
import io.sandboxd.api.auth.Team;
import io.sandboxd.api.proxy.SandboxRouter.Resolution;
import io.sandboxd.api.sandbox.Connected;
import io.sandboxd.api.sandbox.CreateSandbox;
import io.sandboxd.api.sandbox.NetworkConfig;
import io.sandboxd.api.sandbox.OnTimeout;
import io.sandboxd.api.sandbox.Sandbox;
import io.sandboxd.api.sandbox.SandboxException;
import io.sandboxd.api.sandbox.SandboxQuery;
import io.sandboxd.api.sandbox.SandboxState;
import io.sandboxd.daemon.host.HostAssumptions;
import io.sandboxd.daemon.runtime.KilledSandboxException;
import io.sandboxd.daemon.runtime.jail.JailSandbox;
import io.sandboxd.daemon.runtime.jail.JailConfig;
import io.sandboxd.daemon.runtime.jail.JailRuntime;
import io.sandboxd.daemon.runtime.jail.TinyRootfs;
import io.sandboxd.daemon.store.Store;
import io.sandboxd.daemon.store.TestPostgres;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The orchestrator against a real PostgreSQL and the jail runtime with the busybox template (busybox httpd stands
 * in for envd, so {@code /init} goes to a recording {@link EnvdClient}).
 */
class OrchestratorTest {
    static final String DOMAIN = "sandbox.test";
    static Path dataDir;
    static Store store;
    static JailRuntime runtime;
    static Orchestrator orchestrator;
    static OrchestratorRouter router;
    static TimeoutScheduler timers;
    static SandboxTokens tokens = new SandboxTokens(new byte[32]);
    static final List<Map.Entry<InetSocketAddress, EnvdClient.Init>> inits = new CopyOnWriteArrayList<>();
    static Team team;
    static final Team OTHER = new Team("00000000-0000-0000-0000-000000000001", "other");

    @BeforeAll
    static void start() throws Exception {
        HostAssumptions.assumeJailHost();
        dataDir = Files.createTempDirectory("sandboxd-orchestrator-test-");
        TinyRootfs.create(dataDir);
        store = Store.over(TestPostgres.freshDatabase());
        team = store.teams().ensureDefault();
        runtime = JailRuntime.start(JailConfig.forCommand(dataDir,
                        List.of("/bin/httpd", "-f", "-p", String.valueOf(io.sandboxd.daemon.envd.EnvdLaunch.PORT), "-h", "/www"),
                        io.sandboxd.daemon.envd.EnvdLaunch.PORT)
                .withRuncRoot(dataDir.resolve("runc"))
                .withCgroupParent("sandboxd-otest")
                .withNetwork(io.sandboxd.daemon.network.NetworkConfig.defaults().withNamePrefix("sbxo")
                        .withSubnet("10.13.0.0/16").withDnsServers(List.of()))
                .withPoolSize(1)
                .withDefaults(1, 128, 64)
                .withReadinessPath("/index.html"));
        orchestrator = new Orchestrator(store, runtime, tokens, (addr, init) -> inits.add(Map.entry(addr, init)),
                DOMAIN);
        orchestrator.reconcile();
        orchestrator.registerTemplate(runtime.prepareTemplate(TinyRootfs.TEMPLATE_ID, l -> { }), 1, 128);
        router = new OrchestratorRouter(orchestrator);
        timers = TimeoutScheduler.start(orchestrator);
    }

    @AfterAll
    static void stop() throws Exception {
        if (timers != null) {
            timers.close();
            router.close();
            orchestrator.close();
            runtime.close();
            assertTrue(runtime.inventory().isEmpty(), "nothing left: " + runtime.inventory());
            assertEquals(List.of(), store.sandboxes().inStates(Set.of(
                    io.sandboxd.daemon.store.SandboxRepository.Lifecycle.values())), "close empties the store");
            store.close();
        }
    }

    static CreateSandbox request(Duration timeout, OnTimeout onTimeout, Map<String, String> metadata) {
        return new CreateSandbox(TinyRootfs.TEMPLATE_ID, timeout, metadata, Map.of("FOO", "bar"), true, false,
                NetworkConfig.DEFAULT, onTimeout, true, false, List.of());
    }

    static CreateSandbox request() {
        return request(Duration.ofMinutes(5), OnTimeout.KILL, Map.of());
    }

    /** The jail the orchestrator's table holds for a sandbox. */
    static JailSandbox jail(String id) {
        return (JailSandbox) orchestrator.live(id).orElseThrow().handle();
    }

    static Resolution route(String id) throws Exception {
        return router.resolve(id, 49983).toCompletableFuture().get();
    }

    static SandboxException.Reason refusal(Runnable r) {
        return assertThrows(SandboxException.class, r::run).reason();
    }

    @Test
    void createInitsEnvdListsGetsRoutesAndKillsOnce() throws Exception {
        Sandbox sb = orchestrator.create(team, request(Duration.ofMinutes(5), OnTimeout.KILL, Map.of("who", "test1")));
        assertTrue(sb.sandboxId().matches("[a-z0-9]{20}"), sb.sandboxId());
        assertEquals(Orchestrator.ENVD_VERSION, sb.envdVersion());
        assertEquals(DOMAIN, sb.domain());
        assertEquals(tokens.envdAccessToken(sb.sandboxId()), sb.envdAccessToken());
        assertNull(sb.trafficAccessToken());
        EnvdClient.Init init = inits.stream().filter(e -> e.getValue().accessToken().equals(sb.envdAccessToken()))
                .findFirst().orElseThrow().getValue();
        assertEquals(Map.of("FOO", "bar"), init.envVars());
        assertEquals("user", init.defaultUser());
        assertEquals("/home/user", init.defaultWorkdir());

        var page = orchestrator.list(team, new SandboxQuery(Set.of(SandboxState.RUNNING), Map.of("who", "test1"), null,
                null, SandboxQuery.Order.ASCENDING, 100, null));
        assertEquals(List.of(sb.sandboxId()), page.sandboxes().stream().map(d -> d.sandboxId()).toList());
        assertEquals(SandboxState.RUNNING, orchestrator.get(team, sb.sandboxId()).state());
        assertEquals(SandboxException.Reason.NOT_FOUND, refusal(() -> orchestrator.get(OTHER, sb.sandboxId())));

        Resolution r = route(sb.sandboxId());
        Resolution.Found found = assertInstanceOf(Resolution.Found.class, r);
        JailSandbox jail = jail(sb.sandboxId());
        assertEquals(jail.slot().sandboxInetAddress(), found.target().getAddress());
        assertEquals(1, orchestrator.metrics(team, sb.sandboxId(), null, null).size());

        orchestrator.kill(team, sb.sandboxId());
        assertEquals(SandboxException.Reason.NOT_FOUND, refusal(() -> orchestrator.kill(team, sb.sandboxId())));
        assertEquals(SandboxException.Reason.NOT_FOUND, refusal(() -> orchestrator.get(team, sb.sandboxId())));
        assertInstanceOf(Resolution.NotFound.class, route(sb.sandboxId()));
        assertThrows(KilledSandboxException.class, jail::stats, "the jail is gone");
        assertFalse(runtime.inventory().runcContainers().contains(jail.runtimeId()), "its container too");
    }

    @Test
    void unknownTemplateAndBadTimeoutAreRefused() {
        assertEquals(SandboxException.Reason.NOT_FOUND, refusal(() -> orchestrator.create(team, new CreateSandbox(
                "nosuch", Duration.ofMinutes(1), Map.of(), Map.of(), true, true, NetworkConfig.DEFAULT, OnTimeout.KILL,
                true, false, List.of()))));
        assertEquals(SandboxException.Reason.INVALID, refusal(() -> orchestrator.create(team,
                request(Duration.ZERO, OnTimeout.KILL, Map.of()))));
    }

    @Test
    void pauseFreezesAndConnectResumesWith201ThenAnswers200() throws Exception {
        Sandbox sb = orchestrator.create(team, request());
        String id = sb.sandboxId();
        try {
            orchestrator.pause(team, id, true);
            assertEquals(SandboxState.PAUSED, orchestrator.get(team, id).state());
            Path freezer = Path.of("/sys/fs/cgroup/freezer/sandboxd-otest", jail(id).runtimeId(), "freezer.state");
            if (Files.exists(freezer)) {
                assertEquals("FROZEN", Files.readString(freezer).strip());
            }
            assertInstanceOf(Resolution.Paused.class, route(id), "no autoResume: the proxy answers paused");
            assertEquals(SandboxException.Reason.CONFLICT, refusal(() -> orchestrator.pause(team, id, true)));
            assertEquals(SandboxException.Reason.NOT_FOUND, refusal(() -> orchestrator.setTimeout(team, id, Duration.ofMinutes(1))));

            Connected c = orchestrator.connect(team, id, Duration.ofMinutes(2), true);
            assertTrue(c.resumed(), "paused -> 201");
            assertEquals(SandboxState.RUNNING, orchestrator.get(team, id).state());
            assertInstanceOf(Resolution.Found.class, route(id));
            assertFalse(orchestrator.connect(team, id, Duration.ofMinutes(1), true).resumed(), "running -> 200");
            assertEquals(SandboxException.Reason.CONFLICT, refusal(() -> orchestrator.resume(team, id,
                    Duration.ofMinutes(1), false)), "the deprecated resume of a running sandbox");
        } finally {
            orchestrator.kill(team, id);
        }
    }

    @Test
    void concurrentPausesHaveOneWinnerAndTheRestGet409() throws Exception {
        String id = orchestrator.create(team, request()).sandboxId();
        int n = 4;
        ExecutorService pool = Executors.newFixedThreadPool(n);
        try {
            CountDownLatch go = new CountDownLatch(1);
            List<Future<SandboxException.Reason>> results = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                results.add(pool.submit(() -> {
                    go.await();
                    try {
                        orchestrator.pause(team, id, true);
                        return null;
                    } catch (SandboxException e) {
                        return e.reason();
                    }
                }));
            }
            go.countDown();
            List<SandboxException.Reason> reasons = new ArrayList<>();
            for (Future<SandboxException.Reason> f : results) {
                reasons.add(f.get());
            }
            assertEquals(1, reasons.stream().filter(r -> r == null).count(), "one pause wins: " + reasons);
            assertTrue(reasons.stream().allMatch(r -> r == null || r == SandboxException.Reason.CONFLICT), reasons.toString());
            assertEquals(SandboxState.PAUSED, orchestrator.get(team, id).state());
        } finally {
            pool.shutdownNow();
            orchestrator.kill(team, id);
        }
    }

    @Test
    void anExpiredSandboxIsKilledOrPausedWithAutoPause() throws Exception {
        String killed = orchestrator.create(team, request(Duration.ofSeconds(1), OnTimeout.KILL, Map.of())).sandboxId();
        String paused = orchestrator.create(team, request(Duration.ofSeconds(1), OnTimeout.PAUSE, Map.of())).sandboxId();
        String kept = orchestrator.create(team, request(Duration.ofSeconds(1), OnTimeout.KILL, Map.of())).sandboxId();
        orchestrator.setTimeout(team, kept, Duration.ofMinutes(5));
        try {
            long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
            while (System.nanoTime() < deadline && (exists(killed)
                    || orchestrator.get(team, paused).state() != SandboxState.PAUSED)) {
                Thread.sleep(100);
            }
            assertFalse(exists(killed), "killed at its timeout");
            assertEquals(SandboxState.PAUSED, orchestrator.get(team, paused).state(), "paused at its timeout");
            assertEquals(SandboxState.RUNNING, orchestrator.get(team, kept).state(), "setTimeout moved its end");
        } finally {
            for (String id : List.of(killed, paused, kept)) {
                if (exists(id)) {
                    orchestrator.kill(team, id);
                }
            }
        }
    }

    @Test
    void reconcileAfterARestartRemovesWhatTheStoreListsButNothingRuns() {
        String id = orchestrator.create(team, request()).sandboxId();
        JailSandbox jail = jail(id);
        // A new daemon over the same store: its runtime holds none of the old process's sandboxes.
        Orchestrator restarted = new Orchestrator(store, runtime, tokens, (a, i) -> { }, DOMAIN);
        // Only the store half: the runtime's host sweep is for start-up, before the pool refills concurrently.
        List<String> removed = restarted.reconcileStore();
        assertTrue(removed.stream().anyMatch(l -> l.contains(id)), removed.toString());
        assertEquals(SandboxException.Reason.NOT_FOUND, refusal(() -> restarted.get(team, id)));
        assertEquals(SandboxException.Reason.NOT_FOUND, refusal(() -> orchestrator.get(team, id)));
        jail.kill();
    }

    static boolean exists(String id) {
        try {
            orchestrator.get(team, id);
            return true;
        } catch (SandboxException e) {
            return false;
        }
    }
}
