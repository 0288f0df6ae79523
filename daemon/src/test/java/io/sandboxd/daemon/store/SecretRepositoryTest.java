package io.sandboxd.daemon.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sandboxd.api.auth.Team;
import io.sandboxd.daemon.store.SecretRepository.SecretRecord;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class SecretRepositoryTest extends FreshStoreTest {
    static final Instant T0 = Instant.parse("2026-01-01T00:00:00Z");

    static SecretRecord row(String id, Team team, String name, long version, Instant at) {
        return new SecretRecord(id, team.id(), name, version, Map.of("k", "v"), new byte[12], new byte[] {1, 2, 3},
                at, at);
    }

    @Test
    void migrationsV1V2V4ApplyWithTheGapForV3() throws Exception {
        List<String> versions = new ArrayList<>();
        try (Connection c = store.database().connection(); Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT version FROM flyway_schema_history WHERE success ORDER BY installed_rank")) {
            while (rs.next()) {
                versions.add(rs.getString(1));
            }
        }
        assertTrue(versions.containsAll(List.of("1", "2", "4")), versions.toString());
    }

    @Test
    void insertsFindsByIdAndNameWithinTheTeamOnly() {
        Team team = store.teams().ensureDefault();
        Team other = store.teams().ensure("other");
        store.secrets().insert(row("sec_a1", team, "api-key", 1, T0));
        SecretRecord got = store.secrets().findForTeam(team.id(), "sec_a1").orElseThrow();
        assertEquals("api-key", got.name());
        assertEquals(1, got.version());
        assertEquals(Map.of("k", "v"), got.metadata());
        assertArrayEquals(new byte[] {1, 2, 3}, got.ciphertext());
        assertEquals(T0, got.createdAt());
        assertEquals("sec_a1", store.secrets().findByName(team.id(), "api-key").orElseThrow().id());
        assertTrue(store.secrets().findForTeam(other.id(), "sec_a1").isEmpty());
        assertTrue(store.secrets().findByName(other.id(), "api-key").isEmpty());
        assertFalse(store.secrets().delete(other.id(), "sec_a1"), "another team cannot delete it");
        assertFalse(got.toString().contains("ciphertext"), got.toString());
    }

    @Test
    void aNameIsUniquePerTeam() {
        Team team = store.teams().ensureDefault();
        Team other = store.teams().ensure("other");
        store.secrets().insert(row("sec_a1", team, "db", 1, T0));
        assertThrows(SecretRepository.DuplicateNameException.class,
                () -> store.secrets().insert(row("sec_a2", team, "db", 1, T0)));
        store.secrets().insert(row("sec_a3", other, "db", 1, T0));
    }

    @Test
    void theSchemaRefusesNamesWithTheIdPrefixOrUpperCase() {
        Team team = store.teams().ensureDefault();
        assertThrows(StoreException.class, () -> store.secrets().insert(row("sec_a1", team, "sec_x", 1, T0)));
        assertThrows(StoreException.class, () -> store.secrets().insert(row("sec_a1", team, "Upper", 1, T0)));
        assertThrows(StoreException.class, () -> store.secrets().insert(row("notsec", team, "ok", 1, T0)));
    }

    @Test
    void replaceVersionOnlyFromTheVersionBefore() {
        Team team = store.teams().ensureDefault();
        store.secrets().insert(row("sec_a1", team, "db", 1, T0));
        SecretRecord v2 = new SecretRecord("sec_a1", team.id(), "db", 2, Map.of(), new byte[12], new byte[] {9},
                T0, T0.plusSeconds(5));
        assertTrue(store.secrets().replaceVersion(v2));
        assertFalse(store.secrets().replaceVersion(v2), "a second writer from version 1 loses");
        SecretRecord got = store.secrets().findForTeam(team.id(), "sec_a1").orElseThrow();
        assertEquals(2, got.version());
        assertEquals(Map.of(), got.metadata());
        assertArrayEquals(new byte[] {9}, got.ciphertext());
        assertEquals(T0.plusSeconds(5), got.updatedAt());
        assertEquals(T0, got.createdAt());
    }

    @Test
    void pagesOldestFirstAfterAnId() {
        Team team = store.teams().ensureDefault();
        Team other = store.teams().ensure("other");
        for (int i = 0; i < 5; i++) {
            store.secrets().insert(row("sec_a" + i, team, "n" + i, 1, T0.plusSeconds(i)));
        }
        store.secrets().insert(row("sec_o", other, "o", 1, T0));
        assertEquals(List.of("sec_a0", "sec_a1"), ids(store.secrets().page(team.id(), null, 2)));
        assertEquals(List.of("sec_a2", "sec_a3"), ids(store.secrets().page(team.id(), "sec_a1", 2)));
        assertEquals(List.of("sec_a4"), ids(store.secrets().page(team.id(), "sec_a3", 2)));
        assertEquals(List.of(), ids(store.secrets().page(team.id(), "sec_o", 2)), "another team's id starts nowhere");
        assertTrue(store.secrets().delete(team.id(), "sec_a2"));
        assertFalse(store.secrets().delete(team.id(), "sec_a2"));
        assertEquals(4, store.secrets().page(team.id(), null, 100).size());
    }

    static List<String> ids(List<SecretRecord> rows) {
        return rows.stream().map(SecretRecord::id).toList();
    }
}
