package io.sandboxd.daemon.store;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import javax.sql.DataSource;

/**
 * Team secrets ({@code V4__secrets.sql}). The repository only moves sealed bytes: it never sees a value in plain
 * text, and a row's {@code toString} leaves the bytes out.
 */
public final class SecretRepository {
    private static final String UNIQUE_VIOLATION = "23505";
    private static final ObjectMapper JSON = new ObjectMapper();

    /** One secret's row; {@code nonce} and {@code ciphertext} are its current version sealed. */
    public record SecretRecord(String id, String teamId, String name, long version, Map<String, String> metadata,
                               byte[] nonce, byte[] ciphertext, Instant createdAt, Instant updatedAt) {
        public SecretRecord {
            metadata = Map.copyOf(metadata);
        }

        @Override
        public String toString() {
            return "SecretRecord[id=" + id + ", team=" + teamId + ", name=" + name + ", version=" + version + "]";
        }
    }

    /** The team already has a secret of that name. */
    public static final class DuplicateNameException extends RuntimeException {
        DuplicateNameException(String name) {
            super("a secret named '" + name + "' already exists");
        }
    }

    private final DataSource db;

    SecretRepository(DataSource db) {
        this.db = db;
    }

    public void insert(SecretRecord s) {
        try (Connection c = db.getConnection();
             PreparedStatement st = c.prepareStatement("INSERT INTO secrets (id, team_id, name, current_version, "
                     + "metadata, nonce, ciphertext, created_at, updated_at) VALUES (?, ?, ?, ?, ?::jsonb, ?, ?, ?, ?)")) {
            st.setString(1, s.id());
            st.setObject(2, UUID.fromString(s.teamId()));
            st.setString(3, s.name());
            st.setLong(4, s.version());
            st.setString(5, json(s.metadata()));
            st.setBytes(6, s.nonce());
            st.setBytes(7, s.ciphertext());
            st.setObject(8, OffsetDateTime.ofInstant(s.createdAt(), ZoneOffset.UTC));
            st.setObject(9, OffsetDateTime.ofInstant(s.updatedAt(), ZoneOffset.UTC));
            st.executeUpdate();
        } catch (SQLException e) {
            if (UNIQUE_VIOLATION.equals(e.getSQLState()) && e.getMessage().contains("team_id_name")) {
                throw new DuplicateNameException(s.name());
            }
            throw new StoreException("inserting secret " + s.id(), e);
        }
    }

    /**
     * Replaces the current version with {@code next} (version, sealed value, metadata, updated time) if the row is
     * still at {@code next.version() - 1}; false when it is gone or another update got there first.
     */
    public boolean replaceVersion(SecretRecord next) {
        try (Connection c = db.getConnection();
             PreparedStatement st = c.prepareStatement("UPDATE secrets SET current_version = ?, metadata = ?::jsonb, "
                     + "nonce = ?, ciphertext = ?, updated_at = ? WHERE id = ? AND team_id = ? AND current_version = ?")) {
            st.setLong(1, next.version());
            st.setString(2, json(next.metadata()));
            st.setBytes(3, next.nonce());
            st.setBytes(4, next.ciphertext());
            st.setObject(5, OffsetDateTime.ofInstant(next.updatedAt(), ZoneOffset.UTC));
            st.setString(6, next.id());
            st.setObject(7, UUID.fromString(next.teamId()));
            st.setLong(8, next.version() - 1);
            return st.executeUpdate() == 1;
        } catch (SQLException e) {
            throw new StoreException("updating secret " + next.id(), e);
        }
    }

    public Optional<SecretRecord> findForTeam(String teamId, String id) {
        return query("SELECT * FROM secrets WHERE team_id = ? AND id = ?", "finding secret " + id, st -> {
            st.setObject(1, UUID.fromString(teamId));
            st.setString(2, id);
        }).stream().findFirst();
    }

    public Optional<SecretRecord> findByName(String teamId, String name) {
        return query("SELECT * FROM secrets WHERE team_id = ? AND name = ?", "finding secret " + name, st -> {
            st.setObject(1, UUID.fromString(teamId));
            st.setString(2, name);
        }).stream().findFirst();
    }

    /**
     * Up to {@code limit} of the team's secrets, oldest first, starting after the secret {@code afterId} (null:
     * from the start). An {@code afterId} that is not the team's starts nowhere: the page is empty.
     */
    public List<SecretRecord> page(String teamId, String afterId, int limit) {
        if (afterId == null) {
            return query("SELECT * FROM secrets WHERE team_id = ? ORDER BY seq LIMIT ?", "listing secrets",
                    st -> {
                        st.setObject(1, UUID.fromString(teamId));
                        st.setInt(2, limit);
                    });
        }
        return query("SELECT s.* FROM secrets s JOIN secrets a ON a.id = ? AND a.team_id = s.team_id "
                + "WHERE s.team_id = ? AND s.seq > a.seq ORDER BY s.seq LIMIT ?",
                "listing secrets", st -> {
                    st.setString(1, afterId);
                    st.setObject(2, UUID.fromString(teamId));
                    st.setInt(3, limit);
                });
    }

    /** Deletes the team's secret; false when it was not there. */
    public boolean delete(String teamId, String id) {
        try (Connection c = db.getConnection();
             PreparedStatement st = c.prepareStatement("DELETE FROM secrets WHERE team_id = ? AND id = ?")) {
            st.setObject(1, UUID.fromString(teamId));
            st.setString(2, id);
            return st.executeUpdate() == 1;
        } catch (SQLException e) {
            throw new StoreException("deleting secret " + id, e);
        }
    }

    private interface Binder {
        void bind(PreparedStatement st) throws SQLException;
    }

    private List<SecretRecord> query(String sql, String what, Binder binder) {
        try (Connection c = db.getConnection(); PreparedStatement st = c.prepareStatement(sql)) {
            binder.bind(st);
            List<SecretRecord> out = new ArrayList<>();
            try (ResultSet rs = st.executeQuery()) {
                while (rs.next()) {
                    out.add(new SecretRecord(rs.getString("id"), rs.getObject("team_id").toString(),
                            rs.getString("name"), rs.getLong("current_version"), parse(rs.getString("metadata")),
                            rs.getBytes("nonce"), rs.getBytes("ciphertext"),
                            rs.getObject("created_at", OffsetDateTime.class).toInstant(),
                            rs.getObject("updated_at", OffsetDateTime.class).toInstant()));
                }
            }
            return out;
        } catch (SQLException e) {
            throw new StoreException(what, e);
        }
    }

    private static String json(Map<String, String> m) {
        try {
            return JSON.writeValueAsString(m);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("secret metadata is not JSON-serialisable", e);
        }
    }

    private static Map<String, String> parse(String s) {
        try {
            return JSON.readValue(s, new TypeReference<Map<String, String>>() {});
        } catch (JsonProcessingException e) {
            throw new StoreException("reading secret metadata", e);
        }
    }
}
