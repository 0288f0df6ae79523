package io.sandboxd.api.auth;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.HexFormat;
import org.junit.jupiter.api.Test;

class SandboxTokensTest {
    static final byte[] SECRET = HexFormat.of()
            .parseHex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");

    @Test
    void tokensAreHexHmacsOfTheSandboxId() {
        // Reference from Python: hmac.new(secret, b"...", hashlib.sha256).hexdigest()
        SandboxTokens t = new SandboxTokens(SECRET);
        assertEquals("a67fd4d3e4bd810f7fffd213daee797c7fae92715b6caef1d5986451eab79b7c", t.envdAccessToken("sbx123"));
        assertEquals("2ea30cabc37f5ddad0e930c29abf6b85e7b3ba58a796e0be6ae0a6c4a4fc5db8",
                t.trafficAccessToken("sbx123"));
        assertNotEquals(t.envdAccessToken("sbx123"), t.envdAccessToken("sbx124"));
    }

    @Test
    void volumeTokensDependOnTheIdAndTheSalt() {
        SandboxTokens t = new SandboxTokens(SECRET);
        // hmac.new(secret, b"volume-vol1-abcd", hashlib.sha256).hexdigest()
        assertEquals("vol_5584fdb7d3f7f80aab9707fa2ca8c6795a2c035affc2aa8282a93c759b834fc0", t.volumeToken("vol1", "abcd"));
        assertNotEquals(t.volumeToken("vol1", "abcd"), t.volumeToken("vol1", "abce"));
        assertNotEquals(t.volumeToken("vol1", "abcd"), t.volumeToken("vol2", "abcd"));
    }

    @Test
    void shortSecretsAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> new SandboxTokens(new byte[16]));
    }
}
