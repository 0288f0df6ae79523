package io.sandboxd.daemon.orchestrator.cluster;

import io.grpc.ChannelCredentials;
import io.grpc.InsecureChannelCredentials;
import io.grpc.InsecureServerCredentials;
import io.grpc.ServerCredentials;
import io.grpc.TlsChannelCredentials;
import io.grpc.TlsServerCredentials;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyFactory;
import java.security.NoSuchAlgorithmException;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.spec.InvalidKeySpecException;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Base64;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

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
        checkCertificates(cert);
        checkKey(key);
        checkCertificates(ca);
        ServerCredentials server = TlsServerCredentials.newBuilder().keyManager(cert.toFile(), key.toFile())
                .trustManager(ca.toFile()).clientAuth(TlsServerCredentials.ClientAuth.REQUIRE).build();
        ChannelCredentials channel = TlsChannelCredentials.newBuilder().keyManager(cert.toFile(), key.toFile())
                .trustManager(ca.toFile()).build();
        return new NodeTransport(server, channel, "mutual TLS (CA " + ca + ")");
    }

    // gRPC reads the files only when the server starts and the first channel connects, with messages that do not
    // say which file is wrong; checked here, a wrong file stops the start naming it.
    private static void checkCertificates(Path p) throws IOException {
        try (InputStream in = read(p)) {
            if (CertificateFactory.getInstance("X.509").generateCertificates(in).isEmpty()) {
                throw new IOException("node TLS: " + p + " holds no certificate");
            }
        } catch (CertificateException e) {
            throw new IOException("node TLS: " + p + " is not a PEM certificate: " + e.getMessage(), e);
        }
    }

    private static final Pattern PKCS8 = Pattern.compile(
            "-----BEGIN PRIVATE KEY-----([A-Za-z0-9+/=\\s]+)-----END PRIVATE KEY-----");

    private static void checkKey(Path p) throws IOException {
        String pem;
        try (InputStream in = read(p)) {
            pem = new String(in.readAllBytes(), StandardCharsets.US_ASCII);
        }
        Matcher m = PKCS8.matcher(pem);
        if (!m.find()) {
            throw new IOException("node TLS: " + p + " is not a PKCS#8 PEM private key (-----BEGIN PRIVATE KEY-----; "
                    + "openssl pkcs8 -topk8 -nocrypt converts one)");
        }
        byte[] der;
        try {
            der = Base64.getMimeDecoder().decode(m.group(1));
        } catch (IllegalArgumentException e) {
            throw new IOException("node TLS: " + p + " is not valid base64 inside its PEM markers", e);
        }
        for (String algorithm : List.of("EC", "RSA", "Ed25519")) {
            try {
                KeyFactory.getInstance(algorithm).generatePrivate(new PKCS8EncodedKeySpec(der));
                return;
            } catch (InvalidKeySpecException | NoSuchAlgorithmException notThisOne) {
                // the next algorithm
            }
        }
        throw new IOException("node TLS: " + p + " is not an EC, RSA or Ed25519 private key");
    }

    private static InputStream read(Path p) throws IOException {
        try {
            return Files.newInputStream(p);
        } catch (IOException e) {
            throw new IOException("node TLS: cannot read " + p + ": " + e.getMessage(), e);
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
