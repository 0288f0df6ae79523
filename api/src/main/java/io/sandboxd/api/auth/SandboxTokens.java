package io.sandboxd.api.auth;

import java.security.GeneralSecurityException;
import java.util.HexFormat;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Per-sandbox tokens derived from one server secret, as upstream derives them (spec 1.2), so they need no storage
 * and survive a daemon restart: the envd access token {@code hex(HMAC-SHA256(secret, sandboxID))} and the traffic
 * token {@code hex(HMAC-SHA256(secret, "sandbox-traffic-" + sandboxID))} that the proxy checks on non-envd ports;
 * and the volume token of {@link #volumeToken}.
 */
public final class SandboxTokens {
    /** At least 256 bits, as HMAC-SHA256 wants. */
    public static final int MIN_SECRET_BYTES = 32;
    private final SecretKeySpec key;

    public SandboxTokens(byte[] secret) {
        if (secret.length < MIN_SECRET_BYTES) {
            throw new IllegalArgumentException("the token secret must have at least " + MIN_SECRET_BYTES + " bytes");
        }
        this.key = new SecretKeySpec(secret.clone(), "HmacSHA256");
    }

    public String envdAccessToken(String sandboxId) {
        return hmac(sandboxId);
    }

    public String trafficAccessToken(String sandboxId) {
        return hmac("sandbox-traffic-" + sandboxId);
    }

    /**
     * A volume's content-API token, {@code "vol_" + hex(HMAC-SHA256(secret, "volume-" + volumeID + "-" + salt))}:
     * derived, so {@code GET /volumes/{id}} can hand it out again without the store keeping it; the random per-volume
     * salt makes it unguessable from the ID alone and different for every volume ever made.
     */
    public String volumeToken(String volumeId, String salt) {
        return "vol_" + hmac("volume-" + volumeId + "-" + salt);
    }

    /**
     * The team API key handed to a CLI signed in with {@code accessToken}:
     * {@code "e2b_" + the first 40 hex digits of HMAC-SHA256(secret, "team-api-key-" + token)}. Derived, so
     * {@code GET /teams} returns the same key for the same token without the store keeping it.
     */
    public String teamApiKey(String accessToken) {
        return "e2b_" + hmac("team-api-key-" + accessToken).substring(0, KeyHash.SECRET_BYTES * 2);
    }

    /**
     * What one node of a cluster shows another on every node-service call: derived from the secret every node
     * shares, so only the cluster's nodes have it, and no sandbox-scoped token can equal it (sandbox IDs have no '-').
     */
    public String nodeServiceToken() {
        return hmac("cluster-node-service");
    }

    private String hmac(String message) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(key);
            return HexFormat.of().formatHex(mac.doFinal(message.getBytes(java.nio.charset.StandardCharsets.UTF_8)));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("every JDK has HmacSHA256", e);
        }
    }
}
