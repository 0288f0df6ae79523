package io.sandboxd.daemon.store;

import io.sandboxd.api.auth.Team;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.Optional;
import java.util.UUID;
import javax.sql.DataSource;

/** Teams: the owners of keys and sandboxes. A single-host install has one, {@value #DEFAULT_TEAM}. */
public final class TeamRepository {
    public static final String DEFAULT_TEAM = "default";
    private final DataSource db;

    TeamRepository(DataSource db) {
        this.db = db;
    }

    /** The team called {@code name}, created if it does not exist (safe when two processes race). */
    public Team ensure(String name) {
        try (Connection c = db.getConnection();
             PreparedStatement insert = c.prepareStatement(
                     "INSERT INTO teams (id, name) VALUES (?, ?) ON CONFLICT (name) DO NOTHING")) {
            insert.setObject(1, UUID.randomUUID());
            insert.setString(2, name);
            insert.executeUpdate();
            return findByName(c, name).orElseThrow();
        } catch (SQLException e) {
            throw new StoreException("ensuring team " + name, e);
        }
    }

    public Team ensureDefault() {
        return ensure(DEFAULT_TEAM);
    }

    public Optional<Team> findByName(String name) {
        try (Connection c = db.getConnection()) {
            return findByName(c, name);
        } catch (SQLException e) {
            throw new StoreException("finding team " + name, e);
        }
    }

    private static Optional<Team> findByName(Connection c, String name) throws SQLException {
        try (PreparedStatement q = c.prepareStatement("SELECT id, name FROM teams WHERE name = ?")) {
            q.setString(1, name);
            try (ResultSet rs = q.executeQuery()) {
                return rs.next() ? Optional.of(new Team(rs.getString(1), rs.getString(2))) : Optional.empty();
            }
        }
    }
}
