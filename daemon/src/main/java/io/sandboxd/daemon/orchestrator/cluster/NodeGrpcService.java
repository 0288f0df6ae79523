package io.sandboxd.daemon.orchestrator.cluster;

import io.grpc.stub.StreamObserver;
import io.sandboxd.api.auth.Team;
import io.sandboxd.api.sandbox.Connected;
import io.sandboxd.api.sandbox.NetworkUpdate;
import io.sandboxd.api.sandbox.Sandbox;
import io.sandboxd.api.sandbox.SandboxException;
import io.sandboxd.daemon.orchestrator.Orchestrator;
import io.sandboxd.daemon.orchestrator.cluster.proto.CreateRequest;
import io.sandboxd.daemon.orchestrator.cluster.proto.Empty;
import io.sandboxd.daemon.orchestrator.cluster.proto.ListReply;
import io.sandboxd.daemon.orchestrator.cluster.proto.ListRequest;
import io.sandboxd.daemon.orchestrator.cluster.proto.LogLine;
import io.sandboxd.daemon.orchestrator.cluster.proto.LogsRequest;
import io.sandboxd.daemon.orchestrator.cluster.proto.NetworkRequest;
import io.sandboxd.daemon.orchestrator.cluster.proto.NodeSandbox;
import io.sandboxd.daemon.orchestrator.cluster.proto.NodeServiceGrpc;
import io.sandboxd.daemon.orchestrator.cluster.proto.PauseRequest;
import io.sandboxd.daemon.orchestrator.cluster.proto.ResumeReply;
import io.sandboxd.daemon.orchestrator.cluster.proto.ResumeRequest;
import io.sandboxd.daemon.orchestrator.cluster.proto.SandboxRef;
import io.sandboxd.daemon.orchestrator.cluster.proto.SandboxReply;
import io.sandboxd.daemon.orchestrator.cluster.proto.StatsReply;
import io.sandboxd.daemon.orchestrator.cluster.proto.StatsRequest;
import io.sandboxd.daemon.orchestrator.cluster.proto.TemplatePresenceReply;
import io.sandboxd.daemon.orchestrator.cluster.proto.TemplatePresenceRequest;
import io.sandboxd.daemon.orchestrator.cluster.proto.TimeoutRequest;
import java.time.Duration;
import java.time.Instant;
import java.util.Set;
import java.util.function.Supplier;

/**
 * The node service of this daemon: other nodes' API sends here what concerns the sandboxes this node runs, and the
 * creates placed on it. Every call runs on the server's own worker threads (it blocks on the orchestrator) and is
 * answered by this node's orchestrator, with its refusals carried back as they are ({@link NodeErrors}).
 */
final class NodeGrpcService extends NodeServiceGrpc.NodeServiceImplBase {
    private final Orchestrator local;
    private final Routes routes;

    NodeGrpcService(Orchestrator local, Routes routes) {
        this.local = local;
        this.routes = routes;
    }

    @Override
    public void create(CreateRequest request, StreamObserver<SandboxReply> out) {
        answer(out, () -> {
            Sandbox s = local.create(NodeMessages.team(request.getTeam()), NodeMessages.create(request));
            routes.hosted(s.sandboxId());
            return NodeMessages.sandbox(s);
        });
    }

    @Override
    public void kill(SandboxRef request, StreamObserver<Empty> out) {
        answer(out, () -> {
            local.kill(NodeMessages.team(request.getTeam()), request.getSandboxId());
            routes.gone(request.getSandboxId());
            return Empty.getDefaultInstance();
        });
    }

    @Override
    public void pause(PauseRequest request, StreamObserver<Empty> out) {
        answer(out, () -> {
            local.pause(NodeMessages.team(request.getSandbox().getTeam()), request.getSandbox().getSandboxId(),
                    request.getMemory());
            return Empty.getDefaultInstance();
        });
    }

    @Override
    public void resume(ResumeRequest request, StreamObserver<ResumeReply> out) {
        answer(out, () -> {
            Team team = NodeMessages.team(request.getSandbox().getTeam());
            String id = request.getSandbox().getSandboxId();
            Duration timeout = Duration.ofMillis(request.getTimeoutMs());
            if (request.getConnect()) {
                Connected c = local.connect(team, id, timeout, request.getMemory());
                return ResumeReply.newBuilder().setSandbox(NodeMessages.sandbox(c.sandbox())).setResumed(c.resumed())
                        .build();
            }
            Sandbox s = local.resume(team, id, timeout, request.getAutoPause());
            return ResumeReply.newBuilder().setSandbox(NodeMessages.sandbox(s)).setResumed(true).build();
        });
    }

    @Override
    public void setTimeout(TimeoutRequest request, StreamObserver<Empty> out) {
        answer(out, () -> {
            Team team = NodeMessages.team(request.getSandbox().getTeam());
            String id = request.getSandbox().getSandboxId();
            if (request.getRefresh()) {
                local.refresh(team, id, request.getTimeoutMs() == 0 ? null : Duration.ofMillis(request.getTimeoutMs()));
            } else {
                local.setTimeout(team, id, Duration.ofMillis(request.getTimeoutMs()));
            }
            return Empty.getDefaultInstance();
        });
    }

    @Override
    public void updateNetwork(NetworkRequest request, StreamObserver<Empty> out) {
        answer(out, () -> {
            local.updateNetwork(NodeMessages.team(request.getSandbox().getTeam()), request.getSandbox().getSandboxId(),
                    new NetworkUpdate(request.getAllowInternetAccess(), request.getAllowOutList(),
                            request.getDenyOutList()));
            return Empty.getDefaultInstance();
        });
    }

    @Override
    public void list(ListRequest request, StreamObserver<ListReply> out) {
        answer(out, () -> {
            ListReply.Builder b = ListReply.newBuilder();
            for (Orchestrator.HostedSandbox s : local.hosted()) {
                b.addSandboxes(NodeSandbox.newBuilder().setSandboxId(s.sandboxId()).setTeamId(s.teamId())
                        .setState(s.state()));
            }
            return b.build();
        });
    }

    @Override
    public void stats(StatsRequest request, StreamObserver<StatsReply> out) {
        answer(out, () -> {
            StatsReply.Builder b = StatsReply.newBuilder();
            local.metrics(NodeMessages.team(request.getSandbox().getTeam()), request.getSandbox().getSandboxId(),
                    request.getStartEpochMs() == 0 ? null : Instant.ofEpochMilli(request.getStartEpochMs()),
                    request.getEndEpochMs() == 0 ? null : Instant.ofEpochMilli(request.getEndEpochMs()))
                    .forEach(m -> b.addMetrics(NodeMessages.metric(m)));
            return b.build();
        });
    }

    @Override
    public void logs(LogsRequest request, StreamObserver<LogLine> out) {
        try {
            local.logs(NodeMessages.team(request.getSandbox().getTeam()), request.getSandbox().getSandboxId(),
                    NodeMessages.logs(request)).forEach(e -> out.onNext(NodeMessages.log(e)));
            out.onCompleted();
        } catch (SandboxException e) {
            out.onError(NodeErrors.toStatus(e));
        } catch (RuntimeException e) {
            out.onError(NodeErrors.unexpected(e));
        }
    }

    @Override
    public void templatePresence(TemplatePresenceRequest request, StreamObserver<TemplatePresenceReply> out) {
        answer(out, () -> {
            Set<String> ready = local.readyTemplates();
            return TemplatePresenceReply.newBuilder()
                    .addAllPresent(request.getTemplateIdsList().stream().filter(ready::contains).toList()).build();
        });
    }

    private static <T> void answer(StreamObserver<T> out, Supplier<T> call) {
        T reply;
        try {
            reply = call.get();
        } catch (SandboxException e) {
            out.onError(NodeErrors.toStatus(e));
            return;
        } catch (RuntimeException e) {
            out.onError(NodeErrors.unexpected(e));
            return;
        }
        out.onNext(reply);
        out.onCompleted();
    }
}
