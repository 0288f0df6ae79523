package io.sandboxd.daemon.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sandboxd.api.auth.KeyHash;
import io.sandboxd.api.auth.Team;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class KeyRepositoryTest extends FreshStoreTest {
    @Test
    void storesOnlyTheUpstreamHash() throws Exception {
        Team team = store.teams().ensureDefault();
        KeyRepository.Created key = store.keys().create(KeyHash.API_KEY, team, "sdk");
        KeyRepository.Created token = store.keys().create(KeyHash.ACCESS_TOKEN, team, "cli");
        assertTrue(key.plaintext().matches("^e2b_[0-9a-f]{40}$"), key.plaintext());
        assertTrue(token.plaintext().matches("^sk_e2b_[0-9a-f]{40}$"), token.plaintext());

        List<String> stored = new ArrayList<>();
        try (Connection c = store.database().connection(); Statement st = c.createStatement()) {
            try (ResultSet rs = st.executeQuery("SELECT key_hash, mask FROM api_keys")) {
                while (rs.next()) {
                    stored.add(rs.getString(1));
                    stored.add(rs.getString(2));
                }
            }
            try (ResultSet rs = st.executeQuery("SELECT token_hash FROM access_tokens")) {
                rs.next();
                assertEquals(KeyHash.ACCESS_TOKEN.of(token.plaintext()), rs.getString(1));
            }
        }
        assertEquals(KeyHash.API_KEY.of(key.plaintext()), stored.get(0));
        assertTrue(stored.get(0).startsWith("$sha256$"));
        for (String column : stored) {
            assertFalse(column.contains(key.plaintext().substring(4)), "no plaintext in " + column);
        }
    }

    @Test
    void authenticatesLiveKeysAndRecordsUse() {
        Team team = store.teams().ensureDefault();
        KeyRepository.Created key = store.keys().create(KeyHash.API_KEY, team, "sdk");
        assertEquals(Optional.of(team), store.keys().authenticate(KeyHash.API_KEY, key.plaintext()));
        assertEquals(Optional.empty(), store.keys().authenticate(KeyHash.API_KEY, KeyHash.API_KEY.generate()));
        assertEquals(Optional.empty(), store.keys().authenticate(KeyHash.ACCESS_TOKEN, key.plaintext()));
        assertEquals(Optional.empty(), store.keys().authenticate(KeyHash.API_KEY, "e2b_xyz"));
        assertNotNull(store.keys().list().getFirst().lastUsedAt());

        StoreApiKeyStore port = new StoreApiKeyStore(store.keys());
        KeyRepository.Created token = store.keys().create(KeyHash.ACCESS_TOKEN, team, "cli");
        assertEquals(Optional.of(team), port.authenticateAccessToken(token.plaintext()));
        assertEquals(Optional.of(team), port.authenticateApiKey(key.plaintext()));
    }

    @Test
    void revokedKeysStopWorkingAndListShowsIt() {
        Team team = store.teams().ensureDefault();
        KeyRepository.Created a = store.keys().create(KeyHash.API_KEY, team, "a");
        KeyRepository.Created t = store.keys().create(KeyHash.ACCESS_TOKEN, team, "t");
        assertTrue(store.keys().revoke(a.info().id()));
        assertFalse(store.keys().revoke(a.info().id()), "already revoked");
        assertTrue(store.keys().revoke(t.info().id()));
        assertEquals(Optional.empty(), store.keys().authenticate(KeyHash.API_KEY, a.plaintext()));
        assertEquals(Optional.empty(), store.keys().authenticate(KeyHash.ACCESS_TOKEN, t.plaintext()));
        List<KeyRepository.KeyInfo> listed = store.keys().list();
        assertEquals(2, listed.size());
        assertTrue(listed.stream().allMatch(KeyRepository.KeyInfo::revoked));
        assertEquals(KeyHash.API_KEY.mask(a.plaintext()), listed.stream()
                .filter(k -> k.kind() == KeyHash.API_KEY).findFirst().orElseThrow().mask());
    }

    @Test
    void teamsAreCreatedOnce() {
        Team a = store.teams().ensureDefault();
        Team b = store.teams().ensure(TeamRepository.DEFAULT_TEAM);
        assertEquals(a, b);
        assertEquals(Optional.of(a), store.teams().findByName("default"));
    }
}
