package io.sandboxd.daemon.orchestrator.cluster;

import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ForwardingClientCall;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;

/**
 * The node service acts for any team, so only the cluster's nodes may call it: every call carries the cluster's
 * node token ({@code SandboxTokens.nodeServiceToken}), which the server compares in constant time; a call without
 * it is refused UNAUTHENTICATED before it reaches the orchestrator.
 */
final class NodeAuth {
    static final Metadata.Key<String> TOKEN = Metadata.Key.of("sandboxd-node-token", Metadata.ASCII_STRING_MARSHALLER);

    private NodeAuth() {
    }

    static ServerInterceptor server(String token) {
        byte[] expected = token.getBytes(StandardCharsets.US_ASCII);
        return new ServerInterceptor() {
            @Override
            public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
                                                               ServerCallHandler<Q, R> next) {
                String given = headers.get(TOKEN);
                if (given == null || !MessageDigest.isEqual(expected, given.getBytes(StandardCharsets.US_ASCII))) {
                    call.close(Status.UNAUTHENTICATED.withDescription("not a node of this cluster (missing or wrong "
                            + TOKEN.name() + ")"), new Metadata());
                    return new ServerCall.Listener<>() { };
                }
                return next.startCall(call, headers);
            }
        };
    }

    static ClientInterceptor client(String token) {
        return new ClientInterceptor() {
            @Override
            public <Q, R> ClientCall<Q, R> interceptCall(MethodDescriptor<Q, R> method, CallOptions options, Channel next) {
                return new ForwardingClientCall.SimpleForwardingClientCall<>(next.newCall(method, options)) {
                    @Override
                    public void start(Listener<R> listener, Metadata headers) {
                        headers.put(TOKEN, token);
                        super.start(listener, headers);
                    }
                };
            }
        };
    }
}
