package io.sandboxd.daemon.orchestrator.cluster;

import io.grpc.ChannelCredentials;
import io.grpc.InsecureChannelCredentials;
import io.grpc.InsecureServerCredentials;
import io.grpc.ServerCredentials;
import io.grpc.TlsChannelCredentials;
import io.grpc.TlsServerCredentials;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * How the nodes of a cluster speak to each other's node service: plaintext (a private network the operator trusts),
 * or mutual TLS, where every node shows a certificate signed by the cluster's CA and accepts only peers that do. With
 * TLS the node token still rides on every call, so a certificate alone does not make a caller a node of this
 * cluster, nor the token alone.
 */
public final class NodeTransport {
    private final ServerCredentials server;
    private final ChannelCredentials channel;
    private final String description;

    private NodeTransport(ServerCredentials server, ChannelCredentials channel, String description) {
        this.server = server;
        this.channel = channel;
        this.description = description;
    }

    public static NodeTransport plaintext() {
        return new NodeTransport(InsecureServerCredentials.create(), InsecureChannelCredentials.create(), "plaintext");
    }

    /**
     * @param cert this node's certificate chain (PEM); its subject alternative names must hold the address other
     *             nodes reach it by ({@code --node-address}), which they check as any TLS client checks a host
     * @param key  its private key (PEM, PKCS#8)
     * @param ca   the cluster's CA certificates (PEM): peers must be signed by one of them
     * @throws IOException when a file cannot be read or is not what it should be, naming it
     */
    public static NodeTransport mutualTls(Path cert, Path key, Path ca) throws IOException {
        for (Path p : new Path[] {cert, key, ca}) {
            if (!Files.isReadable(p)) {
                throw new IOException("node TLS: cannot read " + p);
            }
        }
        try {
            ServerCredentials server = TlsServerCredentials.newBuilder().keyManager(cert.toFile(), key.toFile())
                    .trustManager(ca.toFile()).clientAuth(TlsServerCredentials.ClientAuth.REQUIRE).build();
            ChannelCredentials channel = TlsChannelCredentials.newBuilder().keyManager(cert.toFile(), key.toFile())
                    .trustManager(ca.toFile()).build();
            return new NodeTransport(server, channel, "mutual TLS (CA " + ca + ")");
        } catch (IOException | RuntimeException e) {
            throw new IOException("node TLS: " + cert + ", " + key + " or " + ca + " is not a usable PEM certificate,"
                    + " key or CA: " + e.getMessage(), e);
        }
    }

    ServerCredentials server() {
        return server;
    }

    ChannelCredentials channel() {
        return channel;
    }

    @Override
    public String toString() {
        return description;
    }
}
