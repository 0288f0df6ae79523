package io.sandboxd.daemon.orchestrator.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.TlsChannelCredentials;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import io.sandboxd.api.auth.Team;
import io.sandboxd.api.sandbox.SandboxException;
import io.sandboxd.api.sandbox.SandboxException.Reason;
import io.sandboxd.daemon.host.HostCommand;
import io.sandboxd.daemon.orchestrator.cluster.proto.Empty;
import io.sandboxd.daemon.orchestrator.cluster.proto.NodeServiceGrpc;
import io.sandboxd.daemon.orchestrator.cluster.proto.SandboxRef;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The node service over mutual TLS, with certificates openssl makes for a cluster CA and for a stranger's CA: a node
 * of the cluster gets through (the stub's refusal comes back with its reason, so the call reached the service);
 * plaintext, a certificate of another CA and no certificate at all do not.
 */
class NodeTransportTest {
    private static final String TOKEN = "cluster-token";

    @TempDir
    static Path dir;

    /** A node certificate (for 127.0.0.1) signed by a new CA named {@code name}: {ca, cert, key}. */
    private static Path[] pki(String name) throws IOException {
        Path d = Files.createDirectories(dir.resolve(name));
        Path caKey = d.resolve("ca.key");
        Path ca = d.resolve("ca.pem");
        Path key = d.resolve("node.key");
        Path csr = d.resolve("node.csr");
        Path cert = d.resolve("node.pem");
        Path ext = d.resolve("ext.cnf");
        Files.writeString(ext, "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n");
        HostCommand.check(List.of("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                "-nodes", "-keyout", caKey.toString(), "-out", ca.toString(), "-subj", "/CN=" + name + "-ca", "-days", "1"));
        HostCommand.check(List.of("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                "-nodes", "-keyout", key.toString(), "-out", csr.toString(), "-subj", "/CN=" + name + "-node"));
        HostCommand.check(List.of("openssl", "x509", "-req", "-in", csr.toString(), "-CA", ca.toString(), "-CAkey",
                caKey.toString(), "-CAcreateserial", "-out", cert.toString(), "-days", "1", "-extfile", ext.toString()));
        return new Path[] {ca, cert, key};
    }

    private static Path[] cluster;
    private static Path[] stranger;

    @BeforeAll
    static void certificates() throws IOException {
        cluster = pki("cluster");
        stranger = pki("stranger");
    }

    private static NodeServer refusingServer(NodeTransport transport) throws IOException {
        return NodeServer.start(new InetSocketAddress("127.0.0.1", 0), new NodeServiceGrpc.NodeServiceImplBase() {
            @Override
            public void kill(SandboxRef request, StreamObserver<Empty> out) {
                out.onError(NodeErrors.toStatus(new SandboxException(Reason.NOT_FOUND, "no " + request.getSandboxId())));
            }
        }, TOKEN, transport);
    }

    private static SandboxException kill(int port, NodeTransport transport) {
        try (RemoteNode node = new RemoteNode("a", "127.0.0.1:" + port, TOKEN, transport)) {
            return assertThrows(SandboxException.class, () -> node.kill(new Team("t", "n"), "abc"));
        }
    }

    @Test
    void onlyNodesWithTheClustersCertificateGetThrough() throws Exception {
        NodeTransport tls = NodeTransport.mutualTls(cluster[1], cluster[2], cluster[0]);
        try (NodeServer server = refusingServer(tls)) {
            SandboxException reached = kill(server.port(), tls);
            assertEquals(Reason.NOT_FOUND, reached.reason(), reached.getMessage());
            assertEquals("no abc", reached.getMessage());

            for (NodeTransport outsider : List.of(NodeTransport.plaintext(),
                    NodeTransport.mutualTls(stranger[1], stranger[2], cluster[0]),
                    NodeTransport.mutualTls(stranger[1], stranger[2], stranger[0]))) {
                SandboxException refused = kill(server.port(), outsider);
                assertEquals(Reason.AGENT_FAILED, refused.reason(), outsider + ": " + refused.getMessage());
                assertTrue(refused.getMessage().startsWith("node a (127.0.0.1:" + server.port() + ") did not answer"),
                        refused.getMessage());
            }
        }
    }

    @Test
    void aClientThatShowsNoCertificateIsRefused() throws Exception {
        try (NodeServer server = refusingServer(NodeTransport.mutualTls(cluster[1], cluster[2], cluster[0]))) {
            // trusts the server, as a stranger who got hold of the CA certificate could, but has no key of its own
            var channel = NettyChannelBuilder.forTarget("127.0.0.1:" + server.port(),
                    TlsChannelCredentials.newBuilder().trustManager(cluster[0].toFile()).build()).build();
            try (RemoteNode node = new RemoteNode("a", "127.0.0.1:" + server.port(), channel, TOKEN)) {
                SandboxException refused = assertThrows(SandboxException.class,
                        () -> node.kill(new Team("t", "n"), "abc"));
                assertEquals(Reason.AGENT_FAILED, refused.reason(), refused.getMessage());
            }
        }
    }

    @Test
    void aNodeDoesNotTrustAPeerItsCaDidNotSign() throws Exception {
        // the server is a stranger's; the client holds the cluster's CA and certificate
        try (NodeServer server = refusingServer(NodeTransport.mutualTls(stranger[1], stranger[2], cluster[0]))) {
            SandboxException refused = kill(server.port(), NodeTransport.mutualTls(cluster[1], cluster[2], cluster[0]));
            assertEquals(Reason.AGENT_FAILED, refused.reason(), refused.getMessage());
        }
    }

    @Test
    void unreadableOrBrokenFilesFailTheStartNamingThem() throws Exception {
        Path missing = dir.resolve("nope.pem");
        IOException e = assertThrows(IOException.class, () -> NodeTransport.mutualTls(missing, cluster[2], cluster[0]));
        assertTrue(e.getMessage().startsWith("node TLS: cannot read " + missing), e.getMessage());

        Path junk = Files.writeString(dir.resolve("junk.pem"), "not a certificate\n");
        IOException cert = assertThrows(IOException.class, () -> NodeTransport.mutualTls(junk, cluster[2], cluster[0]));
        assertTrue(cert.getMessage().startsWith("node TLS: " + junk + " is not a PEM certificate"), cert.getMessage());
        IOException ca = assertThrows(IOException.class, () -> NodeTransport.mutualTls(cluster[1], cluster[2], junk));
        assertTrue(ca.getMessage().startsWith("node TLS: " + junk), ca.getMessage());

        // the certificate where the key belongs, and a key in the old EC format
        IOException notKey = assertThrows(IOException.class,
                () -> NodeTransport.mutualTls(cluster[1], cluster[1], cluster[0]));
        assertTrue(notKey.getMessage().contains("is not a PKCS#8 PEM private key"), notKey.getMessage());
        Path sec1 = dir.resolve("sec1.key");
        HostCommand.check(List.of("openssl", "ec", "-in", cluster[2].toString(), "-out", sec1.toString()));
        IOException old = assertThrows(IOException.class, () -> NodeTransport.mutualTls(cluster[1], sec1, cluster[0]));
        assertTrue(old.getMessage().contains(sec1 + " is not a PKCS#8 PEM private key"), old.getMessage());
        Path garbled = Files.writeString(dir.resolve("garbled.key"),
                "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
        IOException bad = assertThrows(IOException.class, () -> NodeTransport.mutualTls(cluster[1], garbled, cluster[0]));
        assertTrue(bad.getMessage().contains("is not an EC, RSA or Ed25519 private key"), bad.getMessage());
    }
}
