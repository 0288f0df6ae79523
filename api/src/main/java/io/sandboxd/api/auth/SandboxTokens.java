package io.sandboxd.api.auth;

import java.security.GeneralSecurityException;
import java.util.HexFormat;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Per-sandbox tokens derived from one server secret, as upstream derives them (spec 1.2), so they need no storage
 * and survive a daemon restart: the envd access token {@code hex(HMAC-SHA256(secret, sandboxID))} and the traffic
 * token {@code hex(HMAC-SHA256(secret, "sandbox-traffic-" + sandboxID))} that the proxy checks on non-envd ports.
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
