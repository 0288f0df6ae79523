package io.sandboxd.daemon.orchestrator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sandboxd.api.auth.SandboxTokens;
import io.sandboxd.api.auth.Team;
import io.sandboxd.api.proxy.SandboxRouter.Resolution;
import io.sandboxd.api.sandbox.CreateSandbox;
import io.sandboxd.api.sandbox.NetworkConfig;
import io.sandboxd.api.sandbox.NetworkUpdate;
import io.sandboxd.api.sandbox.OnTimeout;
import io.sandboxd.api.sandbox.SandboxException;
import io.sandboxd.api.sandbox.SandboxException.Reason;
import io.sandboxd.api.sandbox.SandboxState;
import io.sandboxd.daemon.TestClock;
import io.sandboxd.daemon.envd.EnvdClient;
import io.sandboxd.daemon.envd.EnvdException;
import io.sandboxd.daemon.network.EgressPolicy;
import io.sandboxd.daemon.network.Ipv4Cidr;
import io.sandboxd.daemon.runtime.CapacityException;
import io.sandboxd.daemon.runtime.FakeRuntime;
import io.sandboxd.daemon.runtime.FakeRuntime.FakeSandbox;
import io.sandboxd.daemon.runtime.SandboxRuntimeException;
import io.sandboxd.daemon.runtime.TemplateNotPreparedException;
import io.sandboxd.daemon.store.SandboxRepository.Lifecycle;
import io.sandboxd.daemon.store.SandboxRepository.SandboxRecord;
import io.sandboxd.daemon.store.Store;
import io.sandboxd.daemon.store.TestPostgres;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The orchestrator's lifecycle against a fake runtime, a real store and a clock the test moves: TTLs, pause and
 * resume, and how every kind of failure below reaches the client, without root, runc or waiting.
 */
class OrchestratorLifecycleTest {
    static final String TEMPLATE = "tpl";
    TestClock clock;
    Store store;
    FakeRuntime runtime;
    Orchestrator orchestrator;
    OrchestratorRouter router;
    Team team;
    final List<EnvdClient.Init> inits = new CopyOnWriteArrayList<>();
    final AtomicReference<RuntimeException> initFailure = new AtomicReference<>();

    @BeforeEach
    void start() throws Exception {
        clock = new TestClock(Instant.parse("2026-01-01T00:00:00Z"));
        store = Store.over(TestPostgres.freshDatabase());
        team = store.teams().ensureDefault();
        runtime = new FakeRuntime("vm", clock);
        orchestrator = newOrchestrator();
        orchestrator.registerTemplate(runtime.prepareTemplate(TEMPLATE, l -> { }), 1, 128);
        router = new OrchestratorRouter(orchestrator);
    }

    Orchestrator newOrchestrator() {
        return new Orchestrator(store, runtime, new SandboxTokens(new byte[32]), (InetSocketAddress a, EnvdClient.Init i) -> {
            RuntimeException f = initFailure.getAndSet(null);
            if (f != null) {
                throw f;
            }
            inits.add(i);
        }, "sandbox.test", clock);
    }

    @AfterEach
    void stop() {
        router.close();
        orchestrator.close();
        runtime.close();
        store.close();
    }

    static CreateSandbox request(Duration timeout, OnTimeout onTimeout) {
        return new CreateSandbox(TEMPLATE, timeout, Map.of(), Map.of("A", "1"), false, true, NetworkConfig.DEFAULT,
                onTimeout, false, false, List.of());
    }

    String create(Duration timeout, OnTimeout onTimeout) {
        return orchestrator.create(team, request(timeout, onTimeout)).sandboxId();
    }

    SandboxRecord row(String id) {
        return store.sandboxes().find(id).orElseThrow();
    }

    SandboxException refusal(Runnable r) {
        return assertThrows(SandboxException.class, r::run);
    }

    Resolution route(String id) throws Exception {
        return router.resolve(id, 49983).toCompletableFuture().get();
    }

    /** What the timeout scheduler does on each tick, run by hand. */
    void tick() {
        orchestrator.expired().forEach(orchestrator::expire);
    }

    @Test
    void timesComeFromTheClock() {
        String id = create(Duration.ofMinutes(5), OnTimeout.KILL);
        assertEquals(clock.instant(), row(id).startedAt());
        assertEquals(clock.instant().plus(Duration.ofMinutes(5)), row(id).endAt());
        assertEquals(clock.instant(), inits.getLast().timestamp(), "/init sets envd's clock from ours");
        clock.advance(Duration.ofMinutes(1));
        orchestrator.refresh(team, id, Duration.ofMinutes(10));
        assertEquals(clock.instant().plus(Duration.ofMinutes(10)), row(id).endAt());
        orchestrator.setTimeout(team, id, Duration.ofSeconds(30));
        assertEquals(clock.instant().plus(Duration.ofSeconds(30)), row(id).endAt(), "setTimeout may shorten");
    }

    @Test
    void atItsTimeoutASandboxIsKilledOrPausedAndAMovedTimeoutIsKept() throws Exception {
        String killed = create(Duration.ofSeconds(60), OnTimeout.KILL);
        String paused = create(Duration.ofSeconds(60), OnTimeout.PAUSE);
        String kept = create(Duration.ofSeconds(60), OnTimeout.KILL);
        clock.advance(Duration.ofSeconds(30));
        orchestrator.setTimeout(team, kept, Duration.ofMinutes(5));
        clock.advance(Duration.ofSeconds(29));
        tick();
        assertTrue(orchestrator.expired().isEmpty(), "nothing ends a second early");
        assertFalse(runtime.sandbox(killed).killed());

        clock.advance(Duration.ofSeconds(1));
        tick();
        assertTrue(runtime.sandbox(killed).killed(), "killed at its timeout");
        assertTrue(store.sandboxes().find(killed).isEmpty(), "and its row is gone");
        assertInstanceOf(Resolution.NotFound.class, route(killed));
        assertTrue(runtime.sandbox(paused).paused(), "paused at its timeout (autoPause)");
        assertEquals(SandboxState.PAUSED, orchestrator.get(team, paused).state());
        assertInstanceOf(Resolution.Paused.class, route(paused));
        assertEquals(SandboxState.RUNNING, orchestrator.get(team, kept).state());
        assertFalse(runtime.sandbox(kept).killed());

        clock.advance(Duration.ofMinutes(10));
        tick();
        assertTrue(runtime.sandbox(kept).killed());
        assertFalse(runtime.sandbox(paused).killed(), "a paused sandbox has no running TTL");
    }

    @Test
    void aResumedSandboxGetsItsTimeoutFromNow() {
        String id = create(Duration.ofSeconds(60), OnTimeout.PAUSE);
        orchestrator.pause(team, id, true);
        clock.advance(Duration.ofHours(1));
        assertTrue(orchestrator.connect(team, id, Duration.ofSeconds(90), true).resumed());
        assertFalse(runtime.sandbox(id).paused());
        assertEquals(clock.instant().plus(Duration.ofSeconds(90)), row(id).endAt());
    }

    @Test
    void eachFailureBelowGetsItsOwnStatus() {
        runtime.failNextCreate(new CapacityException("the pool stayed empty for 60 s"));
        SandboxException busy = refusal(() -> create(Duration.ofMinutes(1), OnTimeout.KILL));
        assertEquals(Reason.BUSY, busy.reason());
        assertEquals(503, busy.reason().status());
        assertTrue(busy.getMessage().contains("the pool stayed empty"), busy.getMessage());

        runtime.failNextCreate(new TemplateNotPreparedException("vm", TEMPLATE));
        assertEquals(404, refusal(() -> create(Duration.ofMinutes(1), OnTimeout.KILL)).reason().status());

        runtime.failNextCreate(new SandboxRuntimeException("runc run failed: no space left on device"));
        SandboxException host = refusal(() -> create(Duration.ofMinutes(1), OnTimeout.KILL));
        assertEquals(500, host.reason().status());
        assertTrue(host.getMessage().contains("vm runtime") && host.getMessage().contains("no space left"),
                host.getMessage());

        runtime.failNextCreate(new IllegalArgumentException("memoryMB must be at least 64"));
        assertEquals(400, refusal(() -> create(Duration.ofMinutes(1), OnTimeout.KILL)).reason().status());

        initFailure.set(new EnvdException("envd at 127.0.0.2:49983 refused /init: 500"));
        SandboxException agent = refusal(() -> create(Duration.ofMinutes(1), OnTimeout.KILL));
        assertEquals(502, agent.reason().status());
        assertTrue(agent.getMessage().contains("refused /init"), agent.getMessage());
        FakeSandbox orphan = runtime.created().getLast();
        assertTrue(orphan.killed(), "a sandbox whose agent failed is killed");
        assertTrue(store.sandboxes().find(orphan.sandboxId()).isEmpty(), "and never listed");

        assertEquals(404, refusal(() -> orchestrator.create(team, new CreateSandbox("nosuch", Duration.ofMinutes(1),
                Map.of(), Map.of(), false, true, NetworkConfig.DEFAULT, OnTimeout.KILL, false, false, List.of())))
                .reason().status());
        assertEquals(400, refusal(() -> create(Duration.ZERO, OnTimeout.KILL)).reason().status());
        assertEquals(List.of(), runtime.running(), "no failed create left a sandbox running");
    }

    @Test
    void aFailedPauseOrResumeLeavesTheSandboxAsItWasAndUsable() throws Exception {
        String id = create(Duration.ofMinutes(5), OnTimeout.KILL);
        FakeSandbox sb = runtime.sandbox(id);
        sb.failNext(new SandboxRuntimeException("runc pause: cgroup freezer is busy"));
        SandboxException pause = refusal(() -> orchestrator.pause(team, id, true));
        assertEquals(500, pause.reason().status());
        assertTrue(pause.getMessage().contains("freezer is busy"), pause.getMessage());
        assertEquals(Lifecycle.RUNNING, row(id).state());
        assertInstanceOf(Resolution.Found.class, route(id), "still routable");

        orchestrator.pause(team, id, true);
        sb.failNext(new SandboxRuntimeException("runc resume: no such container"));
        assertEquals(500, refusal(() -> orchestrator.connect(team, id, Duration.ofMinutes(1), true)).reason().status());
        assertEquals(Lifecycle.PAUSED, row(id).state());
        assertInstanceOf(Resolution.Paused.class, route(id));
        assertTrue(orchestrator.connect(team, id, Duration.ofMinutes(1), true).resumed(), "a retry works");
    }

    @Test
    void aSandboxListedInTheStoreButNotRunHereIsRefusedClearlyThenReconciled() {
        String id = create(Duration.ofMinutes(5), OnTimeout.KILL);
        Orchestrator restarted = newOrchestrator();
        restarted.registerTemplate(runtime.prepareTemplate(TEMPLATE, l -> { }), 1, 128);
        SandboxException e = refusal(() -> restarted.pause(team, id, true));
        assertEquals(Reason.CONFLICT, e.reason());
        assertTrue(e.getMessage().contains("not running on this host"), e.getMessage());
        assertEquals(Lifecycle.RUNNING, row(id).state(), "the refusal changed nothing");
        List<String> removed = restarted.reconcileStore();
        assertTrue(removed.stream().anyMatch(l -> l.contains(id)), removed.toString());
        assertEquals(404, refusal(() -> restarted.get(team, id)).reason().status());
    }

    @Test
    void metricsComeFromTheHandleAndCloseKillsEverySandbox() {
        String a = create(Duration.ofMinutes(5), OnTimeout.KILL);
        String b = create(Duration.ofMinutes(5), OnTimeout.PAUSE);
        orchestrator.pause(team, b, true);
        var m = orchestrator.metrics(team, a, null, null);
        assertEquals(1, m.size());
        assertEquals(1.5, m.getFirst().cpuUsedPct());
        runtime.sandbox(a).failNext(new SandboxRuntimeException("runc events: broken pipe"));
        assertEquals(500, refusal(() -> orchestrator.metrics(team, a, null, null)).reason().status());

        orchestrator.close();
        assertTrue(runtime.sandbox(a).killed() && runtime.sandbox(b).killed(), "paused ones too");
        assertEquals(List.of(), store.sandboxes().inStates(java.util.EnumSet.allOf(Lifecycle.class)));
    }

    @Test
    void killIsOnceAndTheSecondGets404() throws Exception {
        String id = create(Duration.ofMinutes(5), OnTimeout.KILL);
        orchestrator.kill(team, id);
        assertEquals(List.of("kill"), runtime.sandbox(id).calls());
        assertEquals(404, refusal(() -> orchestrator.kill(team, id)).reason().status());
        assertInstanceOf(Resolution.NotFound.class, route(id));
        assertEquals(1, runtime.sandbox(id).calls().size(), "one kill reached the runtime");
        assertTrue(clock.instant().truncatedTo(ChronoUnit.MICROS).equals(clock.instant()));
    }

    static CreateSandbox withNetwork(boolean internet, List<String> allowOut, List<String> denyOut) {
        return new CreateSandbox(TEMPLATE, Duration.ofMinutes(5), Map.of(), Map.of(), false, internet,
                new NetworkConfig(true, allowOut, denyOut, null), OnTimeout.KILL, false, false, List.of());
    }

    @Test
    void egressRulesReachTheRuntimeAndBadOnesAre400BeforeAnythingStarts() {
        String id = orchestrator.create(team, withNetwork(true, List.of("1.1.1.1", "*.api.test"), List.of("0.0.0.0/0")))
                .sandboxId();
        EgressPolicy egress = runtime.sandbox(id).egress();
        assertEquals(List.of(Ipv4Cidr.parse("1.1.1.1/32")), egress.allow());
        assertTrue(egress.allowsDomain("x.api.test"));
        assertEquals(EgressPolicy.CLOSED, runtime.sandbox(
                orchestrator.create(team, withNetwork(false, List.of(), List.of())).sandboxId()).egress());

        int before = runtime.created().size();
        SandboxException e = refusal(() -> orchestrator.create(team, withNetwork(true, List.of("example.com"), List.of())));
        assertEquals(Reason.INVALID, e.reason());
        assertTrue(e.getMessage().contains("denyOut does not contain 0.0.0.0/0"), e.getMessage());
        assertEquals(Reason.INVALID, refusal(() -> orchestrator.create(team, withNetwork(true, List.of(), List.of("a.test"))))
                .reason());
        assertEquals(before, runtime.created().size(), "no sandbox was started for a refused create");
    }

    @Test
    void updateNetworkAppliesToTheRunningOrPausedSandboxAndIsWhatGetShows() {
        String id = create(Duration.ofMinutes(5), OnTimeout.KILL);
        orchestrator.updateNetwork(team, id, new NetworkUpdate(true, List.of("8.8.8.8"), List.of("0.0.0.0/0")));
        assertEquals(List.of(Ipv4Cidr.parse("8.8.8.8/32")), runtime.sandbox(id).egress().allow());
        assertEquals(List.of("8.8.8.8"), orchestrator.get(team, id).network().allowOut());
        assertEquals(List.of("0.0.0.0/0"), orchestrator.get(team, id).network().denyOut());

        orchestrator.pause(team, id, true);
        orchestrator.updateNetwork(team, id, new NetworkUpdate(false, List.of(), List.of()));
        assertEquals(EgressPolicy.CLOSED, runtime.sandbox(id).egress(), "a paused sandbox's rules change too");
        assertFalse(orchestrator.get(team, id).allowInternetAccess());
        assertEquals(List.of(), orchestrator.get(team, id).network().allowOut(), "omitted fields were cleared");

        SandboxException bad = refusal(() -> orchestrator.updateNetwork(team, id,
                new NetworkUpdate(true, List.of("::1"), List.of())));
        assertEquals(Reason.INVALID, bad.reason());
        assertEquals(EgressPolicy.CLOSED, runtime.sandbox(id).egress(), "a refused update changes nothing");
        assertEquals(Reason.NOT_FOUND, refusal(() -> orchestrator.updateNetwork(team, "nosuch",
                new NetworkUpdate(true, List.of(), List.of()))).reason());

        runtime.sandbox(id).failNext(new SandboxRuntimeException("nft refused: boom"));
        SandboxException failed = refusal(() -> orchestrator.updateNetwork(team, id,
                new NetworkUpdate(true, List.of(), List.of())));
        assertEquals(Reason.FAILED, failed.reason(), failed.getMessage());
        assertFalse(orchestrator.get(team, id).allowInternetAccess(), "the row keeps what the runtime still enforces");
    }

    @Test
    void aDaemonKilledWithSandboxesTakesThemBackRunningOrPausedWithTheirRules() throws Exception {
        String running = orchestrator.create(team, withNetwork(true, List.of("8.8.8.8"), List.of("0.0.0.0/0"))).sandboxId();
        String paused = create(Duration.ofMinutes(5), OnTimeout.KILL);
        orchestrator.pause(team, paused, true);
        String lost = create(Duration.ofMinutes(5), OnTimeout.KILL);
        // The dead daemon was in the middle of a pause (runc never froze it) and of a resume (runc never thawed it).
        String midPause = create(Duration.ofMinutes(5), OnTimeout.KILL);
        assertTrue(store.sandboxes().transition(midPause, Lifecycle.RUNNING, Lifecycle.PAUSING));
        String midResume = create(Duration.ofMinutes(5), OnTimeout.KILL);
        orchestrator.pause(team, midResume, true);
        assertTrue(store.sandboxes().transition(midResume, Lifecycle.PAUSED, Lifecycle.RESUMING));
        Instant runningEnd = row(running).endAt();
        clock.advance(Duration.ofMinutes(1));

        // kill -9: nothing is closed; the next daemon gets a new runtime over the same host and the same store
        FakeRuntime next = runtime.afterCrash();
        next.lose(lost);
        router.close();
        runtime = next;
        orchestrator = newOrchestrator();
        orchestrator.registerTemplate(runtime.prepareTemplate(TEMPLATE, l -> { }), 1, 128);
        router = new OrchestratorRouter(orchestrator);
        List<String> lines = orchestrator.reconcile();

        for (String adopted : List.of(running + " (running)", paused + " (paused)", midPause + " (running)",
                midResume + " (paused)")) {
            assertTrue(lines.contains("adopted sandbox " + adopted), adopted + " in " + lines);
        }
        assertTrue(lines.stream().anyMatch(l -> l.startsWith("sandbox " + lost + " (running in the store")), lines.toString());
        assertEquals(Reason.NOT_FOUND, refusal(() -> orchestrator.get(team, lost)).reason(), "a lost jail's row is gone");
        assertEquals(List.of(), runtime.leftOver(), "everything left was adopted or removed");
        assertEquals(4, runtime.running().size());

        assertEquals(SandboxState.RUNNING, orchestrator.get(team, running).state());
        assertEquals(SandboxState.PAUSED, orchestrator.get(team, paused).state());
        assertEquals(Lifecycle.RUNNING, row(midPause).state(), "runc's word wins over the half-written row");
        assertEquals(Lifecycle.PAUSED, row(midResume).state());
        assertEquals(List.of(Ipv4Cidr.parse("8.8.8.8/32")), runtime.sandbox(running).egress().allow(),
                "the rules were given to the runtime again");
        assertTrue(runtime.sandbox(running).egress().deny().contains(EgressPolicy.ALL_TRAFFIC));
        assertEquals(EgressPolicy.OPEN, runtime.sandbox(paused).egress());
        assertInstanceOf(Resolution.Paused.class, route(paused));
        assertInstanceOf(Resolution.Found.class, route(running), "a running one is routed");

        // the paused one resumes through the new daemon, and the running one's TTL goes on from the stored end time
        orchestrator.resume(team, paused, Duration.ofMinutes(10), false);
        assertFalse(runtime.sandbox(paused).paused());
        assertEquals(SandboxState.RUNNING, orchestrator.get(team, paused).state());
        assertEquals(runningEnd, row(running).endAt(), "adoption keeps the TTL");
        clock.advance(Duration.ofMinutes(4).plusSeconds(1));
        tick();
        assertTrue(runtime.sandbox(running).killed(), "killed at the end time the dead daemon set");
        assertFalse(runtime.sandbox(paused).killed());
        orchestrator.kill(team, paused);
        assertTrue(runtime.sandbox(paused).killed());
    }
}
