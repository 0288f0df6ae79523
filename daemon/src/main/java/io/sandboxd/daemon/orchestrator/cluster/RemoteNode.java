package io.sandboxd.daemon.orchestrator.cluster;

import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.sandboxd.api.auth.Team;
import io.sandboxd.api.sandbox.Connected;
import io.sandboxd.api.sandbox.CreateSandbox;
import io.sandboxd.api.sandbox.LogEntry;
import io.sandboxd.api.sandbox.LogQuery;
import io.sandboxd.api.sandbox.NetworkUpdate;
import io.sandboxd.api.sandbox.Sandbox;
import io.sandboxd.api.sandbox.SandboxException;
import io.sandboxd.api.sandbox.SandboxMetric;
import io.sandboxd.daemon.orchestrator.cluster.proto.ListRequest;
import io.sandboxd.daemon.orchestrator.cluster.proto.NetworkRequest;
import io.sandboxd.daemon.orchestrator.cluster.proto.NodeSandbox;
import io.sandboxd.daemon.orchestrator.cluster.proto.NodeServiceGrpc;
import io.sandboxd.daemon.orchestrator.cluster.proto.NodeServiceGrpc.NodeServiceBlockingStub;
import io.sandboxd.daemon.orchestrator.cluster.proto.PauseRequest;
import io.sandboxd.daemon.orchestrator.cluster.proto.ResumeReply;
import io.sandboxd.daemon.orchestrator.cluster.proto.ResumeRequest;
import io.sandboxd.daemon.orchestrator.cluster.proto.StatsRequest;
import io.sandboxd.daemon.orchestrator.cluster.proto.TemplatePresenceRequest;
import io.sandboxd.daemon.orchestrator.cluster.proto.TimeoutRequest;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * Another node, reached through its node service: what the API node calls for a sandbox that runs there. One
 * channel per node (HTTP/2, multiplexed); every call has a deadline, so a node that hangs costs a request its
 * deadline, never a worker thread forever.
 */
final class RemoteNode implements AutoCloseable {
    /** A create may wait for a cold start when the node's pool is empty; everything else is quick. */
    static final Duration CREATE_DEADLINE = Duration.ofSeconds(90);
    static final Duration CALL_DEADLINE = Duration.ofSeconds(30);

    private final String nodeId;
    private final String address;
    private final ManagedChannel channel;
    private final NodeServiceBlockingStub stub;

    /** @param token the cluster's node token, shown on every call ({@link NodeAuth}) */
    RemoteNode(String nodeId, String address, String token, NodeTransport transport) {
        this(nodeId, address, NettyChannelBuilder.forTarget(address, transport.channel()).build(), token);
    }

    /** Over a channel made elsewhere (tests: in-process). */
    RemoteNode(String nodeId, String address, ManagedChannel channel, String token) {
        this.nodeId = nodeId;
        this.address = address;
        this.channel = channel;
        this.stub = NodeServiceGrpc.newBlockingStub(channel).withInterceptors(NodeAuth.client(token));
    }

    String nodeId() {
        return nodeId;
    }

    String address() {
        return address;
    }

    /**
     * @throws Unreachable when the node could not be reached at all (no answer from its node service, not a refusal
     *                     of it), so the create may go to another node
     */
    Sandbox create(Team team, CreateSandbox request) {
        return call(CREATE_DEADLINE, s -> NodeMessages.sandbox(s.create(NodeMessages.create(team, request))), true);
    }

    /** A node that did not answer: what a single host would say ({@link #error}), for when no other node will do. */
    static final class Unreachable extends RuntimeException {
        private final SandboxException error;

        Unreachable(SandboxException error) {
            super(error.getMessage(), error, false, false);
            this.error = error;
        }

        SandboxException error() {
            return error;
        }
    }

    void kill(Team team, String sandboxId) {
        call(CALL_DEADLINE, s -> s.kill(NodeMessages.ref(team, sandboxId)));
    }

    void pause(Team team, String sandboxId, boolean memory) {
        call(CREATE_DEADLINE, s -> s.pause(PauseRequest.newBuilder().setSandbox(NodeMessages.ref(team, sandboxId))
                .setMemory(memory).build()));
    }

    Connected connect(Team team, String sandboxId, Duration timeout, boolean memory) {
        ResumeReply r = call(CREATE_DEADLINE, s -> s.resume(ResumeRequest.newBuilder()
                .setSandbox(NodeMessages.ref(team, sandboxId)).setTimeoutMs(timeout.toMillis()).setMemory(memory)
                .setConnect(true).build()));
        return new Connected(NodeMessages.sandbox(r.getSandbox()), r.getResumed());
    }

    Sandbox resume(Team team, String sandboxId, Duration timeout, boolean autoPause) {
        ResumeReply r = call(CREATE_DEADLINE, s -> s.resume(ResumeRequest.newBuilder()
                .setSandbox(NodeMessages.ref(team, sandboxId)).setTimeoutMs(timeout.toMillis()).setAutoPause(autoPause)
                .build()));
        return NodeMessages.sandbox(r.getSandbox());
    }

    void setTimeout(Team team, String sandboxId, Duration timeout, boolean refresh) {
        call(CALL_DEADLINE, s -> s.setTimeout(TimeoutRequest.newBuilder().setSandbox(NodeMessages.ref(team, sandboxId))
                .setTimeoutMs(timeout == null ? 0 : timeout.toMillis()).setRefresh(refresh).build()));
    }

    void updateNetwork(Team team, String sandboxId, NetworkUpdate update) {
        call(CALL_DEADLINE, s -> s.updateNetwork(NetworkRequest.newBuilder()
                .setSandbox(NodeMessages.ref(team, sandboxId)).setAllowInternetAccess(update.allowInternetAccess())
                .addAllAllowOut(update.allowOut()).addAllDenyOut(update.denyOut()).build()));
    }

    List<SandboxMetric> metrics(Team team, String sandboxId, Instant start, Instant end) {
        return call(CALL_DEADLINE, s -> s.stats(StatsRequest.newBuilder().setSandbox(NodeMessages.ref(team, sandboxId))
                .setStartEpochMs(start == null ? 0 : start.toEpochMilli())
                .setEndEpochMs(end == null ? 0 : end.toEpochMilli()).build()))
                .getMetricsList().stream().map(NodeMessages::metric).toList();
    }

    List<LogEntry> logs(Team team, String sandboxId, LogQuery query) {
        return call(CALL_DEADLINE, s -> {
            List<LogEntry> out = new ArrayList<>();
            s.logs(NodeMessages.logs(team, sandboxId, query)).forEachRemaining(l -> out.add(NodeMessages.log(l)));
            return out;
        });
    }

    List<NodeSandbox> list() {
        return call(CALL_DEADLINE, s -> s.list(ListRequest.getDefaultInstance()).getSandboxesList());
    }

    List<String> templatePresence(List<String> templateIds) {
        return call(CALL_DEADLINE, s -> s.templatePresence(TemplatePresenceRequest.newBuilder()
                .addAllTemplateIds(templateIds).build()).getPresentList());
    }

    private <T> T call(Duration deadline, Function<NodeServiceBlockingStub, T> rpc) {
        return call(deadline, rpc, false);
    }

    /** @param mayGoElsewhere a node that did not answer throws {@link Unreachable} instead of its 502 */
    private <T> T call(Duration deadline, Function<NodeServiceBlockingStub, T> rpc, boolean mayGoElsewhere) {
        try {
            return rpc.apply(stub.withDeadlineAfter(deadline.toMillis(), TimeUnit.MILLISECONDS));
        } catch (StatusRuntimeException e) {
            SandboxException error = NodeErrors.fromStatus(e, nodeId, address);
            throw mayGoElsewhere && NodeErrors.unreachable(e) ? new Unreachable(error) : error;
        }
    }

    @Override
    public void close() {
        channel.shutdownNow();
    }
}
