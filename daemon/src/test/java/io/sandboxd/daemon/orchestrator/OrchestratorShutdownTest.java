package io.sandboxd.daemon.orchestrator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sandboxd.api.auth.SandboxTokens;
import io.sandboxd.api.auth.Team;
import io.sandboxd.api.sandbox.CreateSandbox;
import io.sandboxd.api.sandbox.NetworkConfig;
import io.sandboxd.api.sandbox.OnTimeout;
import io.sandboxd.api.sandbox.SandboxException;
import io.sandboxd.daemon.TestClock;
import io.sandboxd.daemon.runtime.FakeRuntime;
import io.sandboxd.daemon.runtime.SandboxRuntimeException;
import io.sandboxd.daemon.runtime.UnsupportedRuntimeOperationException;
import io.sandboxd.daemon.store.SandboxRepository.Lifecycle;
import io.sandboxd.daemon.store.Store;
import io.sandboxd.daemon.store.TestPostgres;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A clean shutdown against a fake runtime and a real store: each {@code --on-shutdown} policy does what it says to
 * every sandbox, no create starts once it began, a create in flight is waited for and handled like the others, and
 * with {@code kill} nothing is left in the runtime or the store.
 */
class OrchestratorShutdownTest {
    static final String TEMPLATE = "tpl";
    Store store;
    FakeRuntime runtime;
    Orchestrator orchestrator;
    Team team;
    /** When set, {@code /init} (the step between the runtime's create and the store row) waits for it. */
    volatile CountDownLatch initGate;
    final CountDownLatch initReached = new CountDownLatch(1);

    @BeforeEach
    void start() throws Exception {
        TestClock clock = new TestClock(Instant.parse("2026-01-01T00:00:00Z"));
        store = Store.over(TestPostgres.freshDatabase());
        team = store.teams().ensureDefault();
        runtime = new FakeRuntime("jail", clock);
        orchestrator = new Orchestrator(store, runtime, new SandboxTokens(new byte[32]), (a, i) -> {
            CountDownLatch gate = initGate;
            if (gate != null) {
                initReached.countDown();
                try {
                    gate.await(10, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        }, "sandbox.test", clock);
        orchestrator.registerTemplate(runtime.prepareTemplate(TEMPLATE, l -> { }), 1, 128);
    }

    @AfterEach
    void stop() {
        runtime.close();
        store.close();
    }

    String create() {
        return orchestrator.create(team, new CreateSandbox(TEMPLATE, Duration.ofMinutes(5), Map.of(), Map.of(), false,
                true, NetworkConfig.DEFAULT, OnTimeout.KILL, false, false, List.of())).sandboxId();
    }

    @Test
    void killLeavesNothingInTheRuntimeOrTheStore() {
        String a = create();
        String b = create();
        orchestrator.pause(team, b, true);
        ShutdownReport report = orchestrator.shutdown(ShutdownPolicy.KILL);
        assertEquals(2, report.killed(), report.line());
        assertEquals(List.of(), runtime.running(), "every sandbox killed, the paused one too");
        assertTrue(store.sandboxes().find(a).isEmpty() && store.sandboxes().find(b).isEmpty(), "no row left");
        SandboxException refused = assertThrows(SandboxException.class, this::create);
        assertEquals(503, refused.reason().status(), "no create after shutdown began");
        assertEquals(List.of(), runtime.running(), "the refused create started nothing");
    }

    @Test
    void pausePausesTheRunningOnesAndKeepsEveryRow() {
        String a = create();
        String b = create();
        orchestrator.pause(team, b, true);
        ShutdownReport report = orchestrator.shutdown(ShutdownPolicy.PAUSE);
        assertEquals(1, report.paused(), report.line());
        assertEquals(1, report.kept());
        assertEquals(0, report.killed());
        assertTrue(runtime.sandbox(a).paused() && !runtime.sandbox(a).killed());
        assertEquals(List.of("pause"), runtime.sandbox(b).calls(), "the paused one is left alone");
        assertEquals(Lifecycle.PAUSED, store.sandboxes().find(a).orElseThrow().state());
        assertEquals(Lifecycle.PAUSED, store.sandboxes().find(b).orElseThrow().state());
    }

    @Test
    void aSandboxThatCannotPauseIsKilledNotLeftRunningUnrecorded() {
        String a = create();
        String b = create();
        runtime.sandbox(a).failNext(new SandboxRuntimeException("freezer stuck"));
        ShutdownReport report = orchestrator.shutdown(ShutdownPolicy.PAUSE);
        assertEquals(1, report.paused());
        assertEquals(1, report.killed());
        assertEquals(1, report.failures().size());
        assertTrue(report.failures().getFirst().contains("freezer stuck"), report.failures().toString());
        assertTrue(runtime.sandbox(a).killed());
        assertTrue(store.sandboxes().find(a).isEmpty());
        assertEquals(Lifecycle.PAUSED, store.sandboxes().find(b).orElseThrow().state());
    }

    @Test
    void keepTouchesNothing() {
        String a = create();
        ShutdownReport report = orchestrator.shutdown(ShutdownPolicy.KEEP);
        assertEquals(1, report.kept());
        assertFalse(runtime.sandbox(a).killed() || runtime.sandbox(a).paused());
        assertEquals(List.of(), runtime.sandbox(a).calls());
        assertEquals(Lifecycle.RUNNING, store.sandboxes().find(a).orElseThrow().state());
    }

    @Test
    void aCreateInFlightIsWaitedForAndThenKilledWithTheRest() throws Exception {
        initGate = new CountDownLatch(1);
        // Own threads: the common pool may have a single worker on a 2-core machine.
        java.util.concurrent.ExecutorService threads = java.util.concurrent.Executors.newCachedThreadPool();
        CompletableFuture<String> inFlight = CompletableFuture.supplyAsync(this::create, threads);
        assertTrue(initReached.await(10, TimeUnit.SECONDS));
        CompletableFuture<ShutdownReport> shutdown = CompletableFuture.supplyAsync(() -> orchestrator.shutdown(ShutdownPolicy.KILL),
                threads);
        Thread.sleep(200);
        assertFalse(shutdown.isDone(), "shutdown waits for the create that is starting a sandbox");
        assertEquals(503, assertThrows(SandboxException.class, this::create).reason().status(),
                "while it waits, new creates are refused");
        initGate.countDown();
        String id = inFlight.get(10, TimeUnit.SECONDS);
        ShutdownReport report = shutdown.get(10, TimeUnit.SECONDS);
        assertEquals(1, report.killed(), report.line());
        assertTrue(runtime.sandbox(id).killed(), "the sandbox of the create in flight did not leak");
        assertTrue(store.sandboxes().find(id).isEmpty());
        assertEquals(1, runtime.created().size(), "the refused create started nothing");
        threads.shutdown();
    }

    @Test
    void runtimesDoNotLeaveSandboxesUnlessTheyAdoptThem() {
        assertFalse(runtime.adoptsSandboxesAtStart());
        assertThrows(UnsupportedRuntimeOperationException.class, runtime::closeLeavingSandboxes);
    }
}
