package io.sandboxd.daemon.orchestrator.cluster;

import io.grpc.BindableService;
import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.sandboxd.daemon.orchestrator.Orchestrator;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/** The gRPC server of this node's node service; calls run on virtual threads (they block on the orchestrator). */
public final class NodeServer implements AutoCloseable {
    private final Server server;
    private final ExecutorService workers;

    private NodeServer(Server server, ExecutorService workers) {
        this.server = server;
        this.workers = workers;
    }

    public static NodeServer start(InetSocketAddress address, Orchestrator local, ClusterMember member)
            throws IOException {
        return start(address, new NodeGrpcService(local, member), member.token(), member.transport());
    }

    /** The node service {@code service}, open to callers with {@code token} over {@code transport}. */
    static NodeServer start(InetSocketAddress address, BindableService service, String token,
                            NodeTransport transport) throws IOException {
        ExecutorService workers = Executors.newThreadPerTaskExecutor(Thread.ofVirtual().name("node-rpc-", 0).factory());
        try {
            Server server = NettyServerBuilder.forAddress(address, transport.server()).executor(workers)
                    .addService(io.grpc.ServerInterceptors.intercept(service, NodeAuth.server(token))).build().start();
            return new NodeServer(server, workers);
        } catch (IOException | RuntimeException e) {
            workers.shutdownNow();
            throw new IOException("the node service cannot listen on " + address + " (" + transport + "): "
                    + e.getMessage(), e);
        }
    }

    public int port() {
        return server.getPort();
    }

    @Override
    public void close() throws InterruptedException {
        server.shutdown();
        if (!server.awaitTermination(5, TimeUnit.SECONDS)) {
            server.shutdownNow();
        }
        workers.shutdownNow();
    }
}
