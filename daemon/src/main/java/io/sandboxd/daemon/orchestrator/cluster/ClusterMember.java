package io.sandboxd.daemon.orchestrator.cluster;

import io.sandboxd.daemon.orchestrator.Orchestrator;
import java.time.Clock;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.stream.Collectors;

/**
 * This daemon as a node of a cluster. A heartbeat (every {@link #BEAT}) says it is alive, how full it is and which
 * templates it has; it makes the catalog's routes match the sandboxes it really runs, and it notices the nodes whose
 * heartbeat expired: their sandboxes are marked lost, once, by whichever node sees it first. It also keeps one
 * channel per other node for the calls the API sends there.
 */
public final class ClusterMember implements Routes, AutoCloseable {
    static final Duration BEAT = Duration.ofSeconds(1);
    /** A node that missed about five beats is dead. */
    static final Duration HEARTBEAT_TTL = Duration.ofSeconds(5);
    private static final System.Logger LOG = System.getLogger(ClusterMember.class.getName());

    /**
     * Where this node is reached, how much it takes, and how it speaks to the others.
     *
     * @param token     the cluster's node token (every node derives the same one from the shared secret)
     * @param transport plaintext or mutual TLS, the same on every node
     */
    public record Self(String id, String nodeService, String proxy, int capacity, String token,
                       NodeTransport transport) {
        public Self {
            NodeInfo.checkId(id);
            if (capacity < 1) {
                throw new IllegalArgumentException("node capacity must be at least 1, got " + capacity);
            }
        }
    }

    private final ClusterCatalog catalog;
    private final Orchestrator local;
    private final Self self;
    private final Clock clock;
    private final Consumer<String> events;
    private final Map<String, RemoteNode> remotes = new ConcurrentHashMap<>();
    /** Dead nodes whose sandboxes this node already marked (or saw marked); a node that comes back leaves it. */
    private final Set<String> handledDead = ConcurrentHashMap.newKeySet();
    private volatile ClusterCatalog.Membership membership = new ClusterCatalog.Membership(List.of(), Set.of());
    private final ScheduledExecutorService beats = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "cluster-heartbeat");
        t.setDaemon(true);
        return t;
    });

    /** @param events lines for the daemon's log (a node died and how many sandboxes it took, ...) */
    public ClusterMember(ClusterCatalog catalog, Orchestrator local, Self self, Clock clock, Consumer<String> events) {
        this.catalog = catalog;
        this.local = local;
        this.self = self;
        this.clock = clock;
        this.events = events;
    }

    /** The first beat runs now (the node is visible when this returns), the rest on the heartbeat thread. */
    public ClusterMember start() {
        beat();
        beats.scheduleWithFixedDelay(() -> {
            try {
                beat();
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.WARNING, "cluster heartbeat failed (retrying): " + e.getMessage());
            }
        }, BEAT.toMillis(), BEAT.toMillis(), TimeUnit.MILLISECONDS);
        return this;
    }

    /** One heartbeat: renew, sync routes, read membership, mark what dead nodes left. */
    void beat() {
        Set<String> hosted = local.hosted().stream().map(Orchestrator.HostedSandbox::sandboxId)
                .collect(Collectors.toSet());
        catalog.heartbeat(new NodeInfo(self.id(), self.nodeService(), self.proxy(), self.capacity(), hosted.size(),
                local.readyTemplates(), false), HEARTBEAT_TTL);
        catalog.syncRoutes(self.id(), hosted);
        ClusterCatalog.Membership m = catalog.membership();
        membership = m;
        for (String dead : m.dead()) {
            if (handledDead.add(dead)) {
                List<String> lost = catalog.markLost(dead, clock.instant());
                events.accept("cluster: node " + dead + " stopped answering"
                        + (lost.isEmpty() ? "" : "; marked its " + lost.size() + " sandbox(es) lost"));
                RemoteNode r = remotes.remove(dead);
                if (r != null) {
                    r.close();
                }
            }
        }
        Set<String> back = new HashSet<>(handledDead);
        back.retainAll(m.live().stream().map(NodeInfo::id).collect(Collectors.toSet()));
        for (String id : back) {
            handledDead.remove(id);
            events.accept("cluster: node " + id + " is back");
        }
    }

    String token() {
        return self.token();
    }

    NodeTransport transport() {
        return self.transport();
    }

    public String selfId() {
        return self.id();
    }

    /** As of the last heartbeat (at most {@link #BEAT} old). */
    public ClusterCatalog.Membership membership() {
        return membership;
    }

    /**
     * A live node by id. The membership can be a beat old, so a node it does not have (one that just came back, whose
     * routes its own first heartbeat already wrote) is read from the catalog before calling it gone.
     */
    public Optional<NodeInfo> liveNode(String id) {
        Optional<NodeInfo> known = membership.node(id);
        return known.isPresent() ? known : catalog.node(id);
    }

    /**
     * A create just went to {@code nodeId}: counted in the membership at once, so creates in quick succession do
     * not all pick the node that looked emptiest at the last heartbeat (which then replaces the guess with the truth).
     */
    void placed(String nodeId) {
        ClusterCatalog.Membership m = membership;
        membership = new ClusterCatalog.Membership(m.live().stream().map(n -> !n.id().equals(nodeId) ? n
                : new NodeInfo(n.id(), n.nodeService(), n.proxy(), n.capacity(), n.hosted() + 1, n.templates(),
                        n.draining())).toList(), m.dead());
    }

    ClusterCatalog catalog() {
        return catalog;
    }

    /** The channel to a live node (made on first use, remade when the node moved). */
    RemoteNode remote(NodeInfo node) {
        return remotes.compute(node.id(), (id, have) -> {
            if (have != null && have.address().equals(node.nodeService())) {
                return have;
            }
            if (have != null) {
                have.close();
            }
            return new RemoteNode(id, node.nodeService(), self.token(), self.transport());
        });
    }

    @Override
    public void hosted(String sandboxId) {
        try {
            catalog.route(sandboxId, self.id());
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "routing sandbox " + sandboxId + " in Redis failed (the next "
                    + "heartbeat retries): " + e.getMessage());
        }
    }

    @Override
    public void gone(String sandboxId) {
        try {
            catalog.unroute(sandboxId, self.id());
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "unrouting sandbox " + sandboxId + " in Redis failed (the next "
                    + "heartbeat retries): " + e.getMessage());
        }
    }

    /** Stops the heartbeat and leaves at once, so the others do not wait for the heartbeat to expire. */
    @Override
    public void close() {
        beats.shutdownNow();
        try {
            beats.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        try {
            catalog.leave(self.id());
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "leaving the cluster failed (the heartbeat expires on its own): "
                    + e.getMessage());
        }
        remotes.values().forEach(RemoteNode::close);
        remotes.clear();
    }
}
