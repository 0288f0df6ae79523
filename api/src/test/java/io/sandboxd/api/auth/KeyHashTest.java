package io.sandboxd.api.auth;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class KeyHashTest {
    @Test
    void hashIsSha256OfTheHexDecodedSecretInUnpaddedBase64() {
        // Reference from Python: base64.b64encode(hashlib.sha256(bytes.fromhex(hex)).digest()) without "=".
        assertEquals("$sha256$UkxUOdZmmTioPBmqwaArc+lnzENy1Zg+XGs13rqMW4k",
                KeyHash.API_KEY.of("e2b_00112233445566778899aabbccddeeff00112233"));
        assertEquals(KeyHash.API_KEY.of("e2b_00112233445566778899aabbccddeeff00112233"),
                KeyHash.ACCESS_TOKEN.of("sk_e2b_00112233445566778899aabbccddeeff00112233"),
                "the prefix is not part of what is hashed");
    }

    @Test
    void formatIsPrefixAndLowercaseHexPairs() {
        assertTrue(KeyHash.API_KEY.matches("e2b_0a"));
        assertFalse(KeyHash.API_KEY.matches("e2b_0A"));
        assertFalse(KeyHash.API_KEY.matches("e2b_abc"));
        assertFalse(KeyHash.API_KEY.matches("e2b_"));
        assertFalse(KeyHash.API_KEY.matches("sk_e2b_00"));
        assertFalse(KeyHash.ACCESS_TOKEN.matches("e2b_00"));
        assertFalse(KeyHash.API_KEY.matches(null));
    }

    @Test
    void generatedKeysHaveTheUpstreamFormAndDiffer() {
        String a = KeyHash.API_KEY.generate();
        String b = KeyHash.API_KEY.generate();
        assertTrue(a.matches("^e2b_[0-9a-f]{40}$"), a);
        assertNotEquals(a, b);
        assertTrue(KeyHash.ACCESS_TOKEN.generate().matches("^sk_e2b_[0-9a-f]{40}$"));
        assertEquals("e2b_0011…2233", KeyHash.API_KEY.mask("e2b_00112233445566778899aabbccddeeff00112233"));
    }
}
