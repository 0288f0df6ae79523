package io.sandboxd.daemon.orchestrator.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.StreamObserver;
import io.sandboxd.api.auth.Team;
import io.sandboxd.api.sandbox.CreateSandbox;
import io.sandboxd.api.sandbox.OnTimeout;
import io.sandboxd.api.sandbox.SandboxException;
import io.sandboxd.api.sandbox.SandboxException.Reason;
import io.sandboxd.daemon.orchestrator.cluster.proto.Empty;
import io.sandboxd.daemon.orchestrator.cluster.proto.NodeServiceGrpc;
import io.sandboxd.daemon.orchestrator.cluster.proto.SandboxRef;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * A refusal on the node that runs a sandbox reaches the API node with its reason; a dead node names itself; a caller
 * without the cluster's node token gets nothing done.
 */
class NodeErrorsTest {
    @Test
    void everyReasonCrossesTheNodeServiceAsItIs() throws Exception {
        String name = "node-errors-" + System.nanoTime();
        Reason[] next = {Reason.NOT_FOUND};
        Server server = InProcessServerBuilder.forName(name).directExecutor()
                .addService(io.grpc.ServerInterceptors.intercept(new NodeServiceGrpc.NodeServiceImplBase() {
                    @Override
                    public void kill(SandboxRef request, StreamObserver<Empty> out) {
                        out.onError(NodeErrors.toStatus(new SandboxException(next[0], "because " + next[0])));
                    }
                }, NodeAuth.server("cluster-token"))).build().start();
        ManagedChannel channel = InProcessChannelBuilder.forName(name).directExecutor().build();
        ManagedChannel stranger = InProcessChannelBuilder.forName(name).directExecutor().build();
        try (RemoteNode node = new RemoteNode("b", "in-process", channel, "cluster-token");
             RemoteNode outsider = new RemoteNode("b", "in-process", stranger, "guessed")) {
            SandboxException refused = assertThrows(SandboxException.class,
                    () -> outsider.kill(new Team("t", "n"), "abc"));
            assertEquals(Reason.AGENT_FAILED, refused.reason());
            assertTrue(refused.getMessage().contains("UNAUTHENTICATED not a node of this cluster"), refused.getMessage());
            for (Reason r : Reason.values()) {
                next[0] = r;
                SandboxException e = assertThrows(SandboxException.class, () -> node.kill(new Team("t", "n"), "abc"));
                assertEquals(r, e.reason());
                assertEquals("because " + r, e.getMessage());
            }
        } finally {
            server.shutdownNow();
        }
    }

    @Test
    void aNodeThatDoesNotAnswerIsA502NamingIt() {
        // nothing listens on port 1 of loopback
        try (RemoteNode node = new RemoteNode("c", "127.0.0.1:1", "t", NodeTransport.plaintext())) {
            SandboxException e = assertThrows(SandboxException.class, () -> node.kill(new Team("t", "n"), "abc"));
            assertEquals(Reason.AGENT_FAILED, e.reason());
            assertTrue(e.getMessage().startsWith("node c (127.0.0.1:1) did not answer the node service: UNAVAILABLE"),
                    e.getMessage());
            // a create there may go to another node: it says so, and carries the same 502 for when none will do
            RemoteNode.Unreachable u = assertThrows(RemoteNode.Unreachable.class, () -> node.create(new Team("t", "n"),
                    new CreateSandbox(null, null, Map.of(), Map.of(), false, true, null, OnTimeout.KILL, false, false,
                            List.of())));
            assertEquals(Reason.AGENT_FAILED, u.error().reason());
        }
    }

    @Test
    void onlyANodeThatDidNotAnswerIsUnreachable() {
        assertTrue(NodeErrors.unreachable(Status.UNAVAILABLE.withDescription("Connection refused").asRuntimeException()));
        assertFalse(NodeErrors.unreachable(NodeErrors.toStatus(new SandboxException(Reason.BUSY, "full"))),
                "a node that is full answered: its refusal stands");
        assertFalse(NodeErrors.unreachable(Status.DEADLINE_EXCEEDED.asRuntimeException()),
                "a create past its deadline may still finish there");
    }
}
