package io.sandboxd.daemon.orchestrator.cluster;

import io.sandboxd.api.proxy.SandboxRouter;
import java.net.InetSocketAddress;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * The proxy's routing in a cluster: a sandbox this node runs is routed as on a single host; any other is looked up
 * in the catalog (off the event loop: Redis calls block) and the request goes, unchanged, to the proxy of the node
 * that runs it, which routes it locally and checks its traffic token. A catalog that names this node for a sandbox
 * it does not run answers "not found", so a request takes one extra hop at most.
 */
public final class ClusterRouter implements SandboxRouter, AutoCloseable {
    private final SandboxRouter local;
    private final ClusterMember member;
    private final ExecutorService lookups = Executors.newThreadPerTaskExecutor(
            Thread.ofVirtual().name("cluster-route-", 0).factory());

    public ClusterRouter(SandboxRouter local, ClusterMember member) {
        this.local = local;
        this.member = member;
    }

    @Override
    public CompletionStage<Resolution> resolve(String sandboxId, int port) {
        return local.resolve(sandboxId, port).thenCompose(r -> r instanceof Resolution.NotFound
                ? CompletableFuture.supplyAsync(() -> remote(sandboxId), lookups)
                : CompletableFuture.completedFuture(r));
    }

    private Resolution remote(String sandboxId) {
        if (!(member.catalog().routeOf(sandboxId) instanceof ClusterCatalog.Route.OnNode(var node))
                || node.equals(member.selfId())) {
            return new Resolution.NotFound();
        }
        return member.liveNode(node)
                .<Resolution>map(n -> new Resolution.Found(address(n.proxy()), null))
                .orElseGet(Resolution.NotFound::new);
    }

    static InetSocketAddress address(String hostPort) {
        int colon = hostPort.lastIndexOf(':');
        return new InetSocketAddress(hostPort.substring(0, colon), Integer.parseInt(hostPort.substring(colon + 1)));
    }

    @Override
    public void unreachable(String sandboxId, int port) {
        local.unreachable(sandboxId, port);
    }

    @Override
    public void close() {
        lookups.shutdownNow();
    }
}
