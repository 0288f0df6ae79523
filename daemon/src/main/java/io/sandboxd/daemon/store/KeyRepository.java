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
            st.setObject(1, id);
            st.setObject(2, UUID.fromString(team.id()));
            st.setString(3, name);
            st.setString(4, kind.of(plaintext));
            st.setString(5, kind.mask(plaintext));
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
                String sql = "SELECT k.id, k.team_id, t.name, k.name, k.mask, k.created_at, k.last_used_at, "
                        + "k.revoked_at FROM " + table(kind) + " k JOIN teams t ON t.id = k.team_id";
                try (PreparedStatement st = c.prepareStatement(sql); ResultSet rs = st.executeQuery()) {
                    while (rs.next()) {
                        out.add(new KeyInfo(rs.getObject(1, UUID.class), kind, rs.getString(2), rs.getString(3),
                                rs.getString(4), rs.getString(5), instant(rs.getTimestamp(6)),
                                instant(rs.getTimestamp(7)), instant(rs.getTimestamp(8))));
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

    static Instant instant(Timestamp t) {
        return t == null ? null : t.toInstant();
    }
}
