package io.sandboxd.daemon.orchestrator.cluster;

import io.sandboxd.api.auth.Team;
import io.sandboxd.api.sandbox.Connected;
import io.sandboxd.api.sandbox.CreateSandbox;
import io.sandboxd.api.sandbox.LogEntry;
import io.sandboxd.api.sandbox.LogQuery;
import io.sandboxd.api.sandbox.NetworkUpdate;
import io.sandboxd.api.sandbox.Sandbox;
import io.sandboxd.api.sandbox.SandboxDetail;
import io.sandboxd.api.sandbox.SandboxException;
import io.sandboxd.api.sandbox.SandboxMetric;
import io.sandboxd.api.sandbox.SandboxPage;
import io.sandboxd.api.sandbox.SandboxQuery;
import io.sandboxd.api.sandbox.SandboxService;
import io.sandboxd.daemon.orchestrator.Orchestrator;
import java.time.Duration;
import java.time.Instant;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;

/**
 * The E2B API of a node in a cluster. Reads (get, list) come from the shared database, which has every node's
 * sandboxes, less those of dead nodes; a create is placed ({@link Placement}) and runs here or on the chosen node;
 * everything else for a sandbox goes to the node that runs it, found in the catalog, and comes back with that
 * node's answer (its refusals keep their status).
 *
 * <p>Volumes are files on the node that serves them, so a create with volume mounts runs on this node.
 */
public final class ClusterSandboxService implements SandboxService {
    private static final System.Logger LOG = System.getLogger(ClusterSandboxService.class.getName());
    private final Orchestrator local;
    private final ClusterMember member;

    public ClusterSandboxService(Orchestrator local, ClusterMember member) {
        this.local = local;
        this.member = member;
    }

    /** The node a call for one sandbox goes to: empty for this one. */
    private Optional<RemoteNode> owner(String sandboxId) {
        if (local.hosts(sandboxId)) {
            return Optional.empty();
        }
        return switch (member.catalog().routeOf(sandboxId)) {
            case ClusterCatalog.Route.OnNode(var node) when node.equals(member.selfId()) -> Optional.empty();
            case ClusterCatalog.Route.OnNode(var node) -> {
                NodeInfo info = member.liveNode(node).orElseThrow(() -> new SandboxException(
                        SandboxException.Reason.AGENT_FAILED, "sandbox \"" + sandboxId + "\" runs on node " + node
                                + ", which is not answering its heartbeat"));
                yield Optional.of(member.remote(info));
            }
            case ClusterCatalog.Route.Lost(var note) -> throw new SandboxException(SandboxException.Reason.NOT_FOUND,
                    "sandbox \"" + sandboxId + "\" is lost: " + note);
            case ClusterCatalog.Route.Unknown() -> Optional.empty(); // this node's own NOT_FOUND says the rest
        };
    }

    private <T> T on(String sandboxId, Function<SandboxService, T> here, Function<RemoteNode, T> there) {
        Optional<RemoteNode> remote = owner(sandboxId);
        return remote.isPresent() ? there.apply(remote.get()) : here.apply(local);
    }

    private void run(String sandboxId, java.util.function.Consumer<SandboxService> here,
                     java.util.function.Consumer<RemoteNode> there) {
        on(sandboxId, s -> {
            here.accept(s);
            return null;
        }, r -> {
            there.accept(r);
            return null;
        });
    }

    @Override
    public Sandbox create(Team team, CreateSandbox request) {
        if (!request.volumeMounts().isEmpty()) {
            return routed(local.create(team, request));
        }
        String key = local.templateKey(request.templateId()).orElse(null);
        List<NodeInfo> live = member.membership().live();
        // A node that went away since the last heartbeat does not answer: the create goes to the next best one.
        Set<String> unreachable = new HashSet<>();
        RemoteNode.Unreachable last = null;
        while (true) {
            List<NodeInfo> candidates = live.stream().filter(n -> !unreachable.contains(n.id())).toList();
            Optional<NodeInfo> node = Placement.choose(candidates, key, member.selfId());
            if (node.isEmpty()) {
                if (last != null) {
                    throw last.error();
                }
                if (key == null) {
                    return routed(local.create(team, request)); // unknown template: its NOT_FOUND names what is ready
                }
                throw new SandboxException(SandboxException.Reason.BUSY, "no node can take this sandbox: "
                        + Placement.whyNone(live, key, request.templateId() == null ? "base" : request.templateId()));
            }
            try {
                Sandbox created = node.get().id().equals(member.selfId()) ? routed(local.create(team, request))
                        : member.remote(node.get()).create(team, request);
                member.placed(node.get().id());
                return created;
            } catch (RemoteNode.Unreachable e) {
                LOG.log(System.Logger.Level.WARNING, "a create placed on node " + node.get().id()
                        + " goes to another node: " + e.getMessage());
                unreachable.add(node.get().id());
                last = e;
            }
        }
    }

    private Sandbox routed(Sandbox s) {
        member.hosted(s.sandboxId());
        return s;
    }

    @Override
    public SandboxPage list(Team team, SandboxQuery query) {
        SandboxPage page = local.list(team, query);
        Map<String, String> lost = member.catalog().lost();
        if (lost.isEmpty()) {
            return page;
        }
        return new SandboxPage(page.sandboxes().stream().filter(s -> !lost.containsKey(s.sandboxId())).toList(),
                page.nextToken());
    }

    @Override
    public SandboxDetail get(Team team, String sandboxId) {
        if (!local.hosts(sandboxId) && member.catalog().routeOf(sandboxId) instanceof ClusterCatalog.Route.Lost(var note)) {
            throw new SandboxException(SandboxException.Reason.NOT_FOUND, "sandbox \"" + sandboxId + "\" is lost: "
                    + note);
        }
        return local.get(team, sandboxId);
    }

    @Override
    public void kill(Team team, String sandboxId) {
        run(sandboxId, s -> {
            s.kill(team, sandboxId);
            member.gone(sandboxId);
        }, r -> r.kill(team, sandboxId));
    }

    @Override
    public void setTimeout(Team team, String sandboxId, Duration timeout) {
        run(sandboxId, s -> s.setTimeout(team, sandboxId, timeout), r -> r.setTimeout(team, sandboxId, timeout, false));
    }

    @Override
    public void refresh(Team team, String sandboxId, Duration duration) {
        run(sandboxId, s -> s.refresh(team, sandboxId, duration), r -> r.setTimeout(team, sandboxId, duration, true));
    }

    @Override
    public Connected connect(Team team, String sandboxId, Duration timeout, boolean memory) {
        return on(sandboxId, s -> s.connect(team, sandboxId, timeout, memory),
                r -> r.connect(team, sandboxId, timeout, memory));
    }

    @Override
    public Sandbox resume(Team team, String sandboxId, Duration timeout, boolean autoPause) {
        return on(sandboxId, s -> s.resume(team, sandboxId, timeout, autoPause),
                r -> r.resume(team, sandboxId, timeout, autoPause));
    }

    @Override
    public void pause(Team team, String sandboxId, boolean memory) {
        run(sandboxId, s -> s.pause(team, sandboxId, memory), r -> r.pause(team, sandboxId, memory));
    }

    @Override
    public List<SandboxMetric> metrics(Team team, String sandboxId, Instant start, Instant end) {
        return on(sandboxId, s -> s.metrics(team, sandboxId, start, end), r -> r.metrics(team, sandboxId, start, end));
    }

    @Override
    public List<LogEntry> logs(Team team, String sandboxId, LogQuery query) {
        return on(sandboxId, s -> s.logs(team, sandboxId, query), r -> r.logs(team, sandboxId, query));
    }

    @Override
    public void updateNetwork(Team team, String sandboxId, NetworkUpdate update) {
        run(sandboxId, s -> s.updateNetwork(team, sandboxId, update), r -> r.updateNetwork(team, sandboxId, update));
    }
}
