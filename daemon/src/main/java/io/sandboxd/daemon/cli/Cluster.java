package io.sandboxd.daemon.cli;

import io.sandboxd.daemon.orchestrator.cluster.ClusterCatalog;
import io.sandboxd.daemon.secret.SecretKeyFile;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Optional;

/** {@code serve --redis}: the catalog this node joins, checked before anything else starts. */
record Cluster(ClusterCatalog catalog, String nodeId) {
    static Cluster join(String redisUrl, String nodeId, Path dataDir) {
        ClusterCatalog catalog;
        try {
            catalog = new ClusterCatalog(redisUrl, ClusterCatalog.PREFIX);
            catalog.ping();
        } catch (RuntimeException e) {
            throw new IllegalStateException("the cluster's Redis at " + redisUrl + " does not answer: " + e.getMessage(), e);
        }
        return new Cluster(catalog, nodeId);
    }

    /**
     * Sandbox tokens minted on one node are checked by every other, and secrets stored by one are decrypted by
     * another: every node needs the same {@code token-secret} and {@code secret-key}. The first node's fingerprint
     * (a SHA-256 of both, which reveals neither) is the cluster's; a node with other files refuses to start.
     */
    void checkSecrets(Path dataDir) throws IOException {
        byte[] tokens = Files.readAllBytes(dataDir.resolve(TokenSecret.FILE));
        byte[] key = Files.readAllBytes(dataDir.resolve(SecretKeyFile.FILE));
        String fingerprint;
        try {
            MessageDigest d = MessageDigest.getInstance("SHA-256");
            d.update("sandboxd-cluster-v1".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            d.update(tokens);
            d.update(key);
            fingerprint = HexFormat.of().formatHex(d.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        Optional<String> cluster = catalog.checkFingerprint(fingerprint);
        if (cluster.isPresent()) {
            throw new IllegalStateException("this node's " + TokenSecret.FILE + " and " + SecretKeyFile.FILE + " (in "
                    + dataDir + ") differ from the cluster's: copy both files from the data dir of a node of the "
                    + "cluster before starting this one");
        }
    }
}
