package io.sandboxd.daemon.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sandboxd.api.auth.KeyHash;
import io.sandboxd.api.auth.Team;
import java.time.Duration;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class StoreApiKeyStoreTest extends FreshStoreTest {
    @Test
    void aRevokedKeyStopsWorkingWhenTheRememberedPeriodEnds() throws Exception {
        Team team = store.teams().ensureDefault();
        KeyRepository.Created key = store.keys().create(KeyHash.API_KEY, team, "sdk");
        StoreApiKeyStore keys = new StoreApiKeyStore(store.keys(), Duration.ofMillis(300));
        assertEquals(Optional.of(team), keys.authenticateApiKey(key.plaintext()));
        assertTrue(store.keys().revoke(key.info().id()));
        assertEquals(Optional.of(team), keys.authenticateApiKey(key.plaintext()), "remembered for the period");
        Thread.sleep(400);
        assertEquals(Optional.empty(), keys.authenticateApiKey(key.plaintext()), "then asked again: revoked");
        assertEquals(Optional.empty(), keys.authenticateApiKey(key.plaintext()), "a refusal is never remembered");
    }

    @Test
    void unknownAndMalformedCredentialsAreRefused() {
        StoreApiKeyStore keys = new StoreApiKeyStore(store.keys());
        assertEquals(Optional.empty(), keys.authenticateApiKey("e2b_" + "0".repeat(40)));
        assertEquals(Optional.empty(), keys.authenticateApiKey("not-a-key"));
        assertEquals(Optional.empty(), keys.authenticateAccessToken("sk_e2b_" + "0".repeat(40)));
    }
}
