package io.sandboxd.daemon.orchestrator;

import io.sandboxd.api.proxy.SandboxRouter;
import io.sandboxd.daemon.envd.EnvdLaunch;
import io.sandboxd.daemon.store.SandboxRepository.Lifecycle;
import java.net.InetSocketAddress;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * The proxy's routing table: the orchestrator's live sandboxes, read without blocking. A paused sandbox created
 * with autoResume is resumed off the event loop and the request continues when it runs.
 */
public final class OrchestratorRouter implements SandboxRouter, AutoCloseable {
    private final Orchestrator orchestrator;
    private final ExecutorService resumers = Executors.newThreadPerTaskExecutor(
            Thread.ofVirtual().name("auto-resume-", 0).factory());

    public OrchestratorRouter(Orchestrator orchestrator) {
        this.orchestrator = orchestrator;
    }

    @Override
    public CompletionStage<Resolution> resolve(String sandboxId, int port) {
        LiveSandbox s = orchestrator.live(sandboxId).orElse(null);
        if (s == null) {
            return CompletableFuture.completedFuture(new Resolution.NotFound());
        }
        return switch (s.state()) {
            case RUNNING -> CompletableFuture.completedFuture(found(s, port));
            case PAUSED -> s.autoResume()
                    ? CompletableFuture.supplyAsync(() -> orchestrator.resumeForTraffic(sandboxId)
                            ? orchestrator.live(sandboxId).<Resolution>map(l -> found(l, port))
                                    .orElseGet(Resolution.NotFound::new)
                            : new Resolution.Paused(), resumers)
                    : CompletableFuture.completedFuture(new Resolution.Paused());
            case CREATING, PAUSING, RESUMING -> CompletableFuture.completedFuture(new Resolution.Transitioning());
            case KILLING -> CompletableFuture.completedFuture(new Resolution.NotFound());
        };
    }

    /** The proxy could not reach envd of a running sandbox: an envd error as the SDK's traffic saw it. */
    @Override
    public void unreachable(String sandboxId, int port) {
        if (port == EnvdLaunch.PORT) {
            orchestrator.metrics().envdError("proxy");
        }
    }

    private static Resolution found(LiveSandbox s, int port) {
        return new Resolution.Found(new InetSocketAddress(s.handle().envdAddress().getAddress(), port), s.trafficToken());
    }

    @Override
    public void close() {
        resumers.shutdownNow();
    }
}
