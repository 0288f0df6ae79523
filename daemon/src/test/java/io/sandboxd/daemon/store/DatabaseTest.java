package io.sandboxd.daemon.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.sql.Connection;
import java.sql.ResultSet;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

class DatabaseTest {
    @Test
    void migratesOnceThenIsCurrent() throws Exception {
        DatabaseUrl url = TestPostgres.freshDatabaseUrl();
        try (Database db = Database.open(url, 2)) {
            assertTrue(db.migrationsApplied() >= 1);
            Set<String> tables = new HashSet<>();
            try (Connection c = db.connection();
                 ResultSet rs = c.getMetaData().getTables(null, "public", "%", new String[] {"TABLE"})) {
                while (rs.next()) {
                    tables.add(rs.getString("TABLE_NAME"));
                }
            }
            assertTrue(tables.containsAll(Set.of("teams", "api_keys", "access_tokens", "templates",
                    "template_aliases", "builds", "sandboxes")), tables.toString());
        }
        try (Database again = Database.open(url, 2)) {
            assertEquals(0, again.migrationsApplied());
        }
    }

    @Test
    void unreachableDatabaseFailsWithWhere() {
        var e = assertThrows(IllegalStateException.class,
                () -> Database.open(new DatabaseUrl("jdbc:postgresql://127.0.0.1:1/x", "u", "p"), 1));
        assertTrue(e.getMessage().contains("127.0.0.1:1"), e.getMessage());
        assertTrue(!e.getMessage().contains(" p "), "the password is never printed");
    }

    @Test
    void libpqUrisBecomeJdbc() {
        DatabaseUrl u = DatabaseUrl.parse("postgres://app:s%3Acret@db.example:6543/sandboxd?sslmode=require");
        assertEquals("jdbc:postgresql://db.example:6543/sandboxd?sslmode=require", u.jdbcUrl());
        assertEquals("app", u.user());
        assertEquals("s:cret", u.password());
        assertTrue(!u.toString().contains("cret"));
        DatabaseUrl jdbc = DatabaseUrl.parse("jdbc:postgresql://h/db?user=x");
        assertNull(jdbc.user());
        assertThrows(IllegalArgumentException.class, () -> DatabaseUrl.parse("mysql://h/db"));
    }
}
