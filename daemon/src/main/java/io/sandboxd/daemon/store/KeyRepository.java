package io.sandboxd.daemon.store;

import io.sandboxd.api.auth.KeyHash;
import io.sandboxd.api.auth.Team;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import javax.sql.DataSource;

/**
 * API keys ({@code e2b_…}) and access tokens ({@code sk_e2b_…}): two tables of the same shape. Only the hash of a
 * credential is stored ({@link KeyHash#of}); the plaintext exists in {@link Created} once, to be shown to the user.
 */
public final class KeyRepository {
    /** The columns {@link #info} reads, of a credential table {@code k} joined with {@code teams t}. */
    private static final String SELECT = "SELECT k.id, k.team_id, t.name, k.name, k.mask, k.created_at, "
            + "k.last_used_at, k.revoked_at";

    private final DataSource db;

    KeyRepository(DataSource db) {
        this.db = db;
    }

    /** A credential as listings show it. */
    public record KeyInfo(UUID id, KeyHash kind, String teamId, String teamName, String name, String mask,
                          Instant createdAt, Instant lastUsedAt, Instant revokedAt) {
        public boolean revoked() {
            return revokedAt != null;
        }
    }

    /** A new credential: {@code plaintext} is shown once and never stored. */
    public record Created(KeyInfo info, String plaintext) {}

    private static String table(KeyHash kind) {
        return kind == KeyHash.API_KEY ? "api_keys" : "access_tokens";
    }

    private static String hashColumn(KeyHash kind) {
        return kind == KeyHash.API_KEY ? "key_hash" : "token_hash";
    }

    public Created create(KeyHash kind, Team team, String name) {
        String plaintext = kind.generate();
        UUID id = UUID.randomUUID();
        String sql = "INSERT INTO " + table(kind) + " (id, team_id, name, " + hashColumn(kind)
                + ", mask) VALUES (?, ?, ?, ?, ?) RETURNING created_at";
        try (Connection c = db.getConnection(); PreparedStatement st = c.prepareStatement(sql)) {
            bindNew(st, id, team, name, kind, plaintext);
            try (ResultSet rs = st.executeQuery()) {
                rs.next();
                KeyInfo info = new KeyInfo(id, kind, team.id(), team.name(), name, kind.mask(plaintext),
                        rs.getTimestamp(1).toInstant(), null, null);
                return new Created(info, plaintext);
            }
        } catch (SQLException e) {
            throw new StoreException("creating " + table(kind) + " entry", e);
        }
    }

    /**
     * Stores a credential whose value the caller derived (the same value every time) unless it is stored already,
     * and returns the stored entry, revoked or not.
     */
    public KeyInfo storeDerived(KeyHash kind, Team team, String name, String plaintext) {
        String insert = "INSERT INTO " + table(kind) + " (id, team_id, name, " + hashColumn(kind)
                + ", mask) VALUES (?, ?, ?, ?, ?) ON CONFLICT (" + hashColumn(kind) + ") DO NOTHING";
        try (Connection c = db.getConnection()) {
            try (PreparedStatement st = c.prepareStatement(insert)) {
                bindNew(st, UUID.randomUUID(), team, name, kind, plaintext);
                st.executeUpdate();
            }
            try (PreparedStatement st = c.prepareStatement(SELECT + " FROM " + table(kind)
                    + " k JOIN teams t ON t.id = k.team_id WHERE k." + hashColumn(kind) + " = ?")) {
                st.setString(1, kind.of(plaintext));
                try (ResultSet rs = st.executeQuery()) {
                    rs.next();
                    return info(kind, rs);
                }
            }
        } catch (SQLException e) {
            throw new StoreException("storing a derived " + table(kind) + " entry", e);
        }
    }

    private static void bindNew(PreparedStatement st, UUID id, Team team, String name, KeyHash kind,
                                String plaintext) throws SQLException {
        st.setObject(1, id);
        st.setObject(2, UUID.fromString(team.id()));
        st.setString(3, name);
        st.setString(4, kind.of(plaintext));
        st.setString(5, kind.mask(plaintext));
    }

    /**
     * The team of a live credential, looked up by hash; records the use. Empty for unknown or revoked credentials.
     */
    public Optional<Team> authenticate(KeyHash kind, String credential) {
        if (!kind.matches(credential)) {
            return Optional.empty();
        }
        String sql = "UPDATE " + table(kind) + " k SET last_used_at = now() FROM teams t WHERE k."
                + hashColumn(kind) + " = ? AND k.revoked_at IS NULL AND t.id = k.team_id RETURNING t.id, t.name";
        try (Connection c = db.getConnection(); PreparedStatement st = c.prepareStatement(sql)) {
            st.setString(1, kind.of(credential));
            try (ResultSet rs = st.executeQuery()) {
                return rs.next() ? Optional.of(new Team(rs.getString(1), rs.getString(2))) : Optional.empty();
            }
        } catch (SQLException e) {
            throw new StoreException("authenticating a credential", e);
        }
    }

    /** Every credential of both kinds, oldest first. */
    public List<KeyInfo> list() {
        List<KeyInfo> out = new ArrayList<>();
        try (Connection c = db.getConnection()) {
            for (KeyHash kind : KeyHash.values()) {
                String sql = SELECT + " FROM " + table(kind) + " k JOIN teams t ON t.id = k.team_id";
                try (PreparedStatement st = c.prepareStatement(sql); ResultSet rs = st.executeQuery()) {
                    while (rs.next()) {
                        out.add(info(kind, rs));
                    }
                }
            }
        } catch (SQLException e) {
            throw new StoreException("listing keys", e);
        }
        out.sort(java.util.Comparator.comparing(KeyInfo::createdAt).thenComparing(k -> k.id().toString()));
        return out;
    }

    /** Revokes the credential with this id (either kind); false when there is no live one. */
    public boolean revoke(UUID id) {
        try (Connection c = db.getConnection()) {
            for (KeyHash kind : KeyHash.values()) {
                try (PreparedStatement st = c.prepareStatement("UPDATE " + table(kind)
                        + " SET revoked_at = now() WHERE id = ? AND revoked_at IS NULL")) {
                    st.setObject(1, id);
                    if (st.executeUpdate() == 1) {
                        return true;
                    }
                }
            }
            return false;
        } catch (SQLException e) {
            throw new StoreException("revoking key " + id, e);
        }
    }

    /** One team's live credentials of one kind, oldest first. */
    public List<KeyInfo> listLive(KeyHash kind, String teamId) {
        String sql = SELECT + " FROM " + table(kind) + " k JOIN teams t ON t.id = k.team_id"
                + " WHERE k.team_id = ? AND k.revoked_at IS NULL ORDER BY k.created_at, k.id";
        List<KeyInfo> out = new ArrayList<>();
        try (Connection c = db.getConnection(); PreparedStatement st = c.prepareStatement(sql)) {
            st.setObject(1, UUID.fromString(teamId));
            try (ResultSet rs = st.executeQuery()) {
                while (rs.next()) {
                    out.add(info(kind, rs));
                }
            }
            return out;
        } catch (SQLException e) {
            throw new StoreException("listing the " + table(kind) + " of team " + teamId, e);
        }
    }

    /** Renames one of the team's live credentials; false when it has none with this id. */
    public boolean rename(KeyHash kind, String teamId, UUID id, String name) {
        return updateLive(kind, teamId, id, "name = ?", name, "renaming");
    }

    /** Revokes one of the team's live credentials; false when it has none with this id. */
    public boolean revoke(KeyHash kind, String teamId, UUID id) {
        return updateLive(kind, teamId, id, "revoked_at = now()", null, "revoking");
    }

    private boolean updateLive(KeyHash kind, String teamId, UUID id, String set, String value, String what) {
        String sql = "UPDATE " + table(kind) + " SET " + set + " WHERE id = ? AND team_id = ? AND revoked_at IS NULL";
        try (Connection c = db.getConnection(); PreparedStatement st = c.prepareStatement(sql)) {
            int i = 1;
            if (value != null) {
                st.setString(i++, value);
            }
            st.setObject(i++, id);
            st.setObject(i, UUID.fromString(teamId));
            return st.executeUpdate() == 1;
        } catch (SQLException e) {
            throw new StoreException(what + " " + table(kind) + " entry " + id, e);
        }
    }

    private static KeyInfo info(KeyHash kind, ResultSet rs) throws SQLException {
        return new KeyInfo(rs.getObject(1, UUID.class), kind, rs.getString(2), rs.getString(3), rs.getString(4),
                rs.getString(5), instant(rs.getTimestamp(6)), instant(rs.getTimestamp(7)), instant(rs.getTimestamp(8)));
    }

    static Instant instant(Timestamp t) {
        return t == null ? null : t.toInstant();
    }
}
