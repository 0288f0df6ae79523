package io.sandboxd.daemon.store;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import javax.sql.DataSource;

/** Team volumes and which sandboxes mount them ({@code V2__volumes.sql}). */
public final class VolumeRepository {
    /** PostgreSQL's unique_violation and foreign_key_violation. */
    private static final String UNIQUE_VIOLATION = "23505";
    private static final String FOREIGN_KEY_VIOLATION = "23503";

    /** One volume's row. */
    public record VolumeRecord(String id, String teamId, String name, String tokenSalt, String tokenHash,
                               Instant createdAt) {}

    /** One volume mounted into one sandbox. */
    public record MountRecord(String volumeId, String volumeName, String path) {}

    /** The team already has a volume of that name. */
    public static final class DuplicateNameException extends RuntimeException {
        DuplicateNameException(String name) {
            super("a volume named '" + name + "' already exists");
        }
    }

    /** The volume is mounted by a sandbox (a mount row refers to it). */
    public static final class InUseException extends RuntimeException {
        InUseException(String id) {
            super("volume " + id + " is mounted by a sandbox");
        }
    }

    private final DataSource db;

    VolumeRepository(DataSource db) {
        this.db = db;
    }

    public void insert(VolumeRecord v) {
        try (Connection c = db.getConnection();
             PreparedStatement st = c.prepareStatement("INSERT INTO volumes (id, team_id, name, token_salt, token_hash, "
                     + "created_at) VALUES (?, ?, ?, ?, ?, ?)")) {
            st.setString(1, v.id());
            st.setObject(2, UUID.fromString(v.teamId()));
            st.setString(3, v.name());
            st.setString(4, v.tokenSalt());
            st.setString(5, v.tokenHash());
            st.setObject(6, java.time.OffsetDateTime.ofInstant(v.createdAt(), java.time.ZoneOffset.UTC));
            st.executeUpdate();
        } catch (SQLException e) {
            if (UNIQUE_VIOLATION.equals(e.getSQLState()) && e.getMessage().contains("team_id_name")) {
                throw new DuplicateNameException(v.name());
            }
            throw new StoreException("inserting volume " + v.id(), e);
        }
    }

    public List<VolumeRecord> forTeam(String teamId) {
        return query("SELECT * FROM volumes WHERE team_id = ? ORDER BY created_at, id", "listing volumes",
                st -> st.setObject(1, UUID.fromString(teamId)));
    }

    public Optional<VolumeRecord> find(String id) {
        return query("SELECT * FROM volumes WHERE id = ?", "finding volume " + id, st -> st.setString(1, id))
                .stream().findFirst();
    }

    public Optional<VolumeRecord> findForTeam(String teamId, String id) {
        return find(id).filter(v -> v.teamId().equals(teamId));
    }

    public Optional<VolumeRecord> findByName(String teamId, String name) {
        return query("SELECT * FROM volumes WHERE team_id = ? AND name = ?", "finding volume " + name, st -> {
            st.setObject(1, UUID.fromString(teamId));
            st.setString(2, name);
        }).stream().findFirst();
    }

    /**
     * Deletes the row; false when it was not there.
     *
     * @throws InUseException while a sandbox has the volume mounted
     */
    public boolean delete(String id) {
        try (Connection c = db.getConnection();
             PreparedStatement st = c.prepareStatement("DELETE FROM volumes WHERE id = ?")) {
            st.setString(1, id);
            return st.executeUpdate() == 1;
        } catch (SQLException e) {
            if (FOREIGN_KEY_VIOLATION.equals(e.getSQLState())) {
                throw new InUseException(id);
            }
            throw new StoreException("deleting volume " + id, e);
        }
    }

    /** Records the mounts of a sandbox whose row exists, in one transaction. */
    public void addMounts(String sandboxId, List<MountRecord> mounts) {
        if (mounts.isEmpty()) {
            return;
        }
        try (Connection c = db.getConnection()) {
            c.setAutoCommit(false);
            try (PreparedStatement st = c.prepareStatement(
                    "INSERT INTO sandbox_volume_mounts (sandbox_id, volume_id, path, position) VALUES (?, ?, ?, ?)")) {
                for (int i = 0; i < mounts.size(); i++) {
                    st.setString(1, sandboxId);
                    st.setString(2, mounts.get(i).volumeId());
                    st.setString(3, mounts.get(i).path());
                    st.setInt(4, i);
                    st.addBatch();
                }
                st.executeBatch();
                c.commit();
            } catch (SQLException e) {
                c.rollback();
                throw e;
            } finally {
                c.setAutoCommit(true);
            }
        } catch (SQLException e) {
            throw new StoreException("recording the volume mounts of sandbox " + sandboxId, e);
        }
    }

    /** The sandbox's mounts in the order it asked for them, with the volumes' names. */
    public List<MountRecord> mountsOf(String sandboxId) {
        try (Connection c = db.getConnection();
             PreparedStatement st = c.prepareStatement("SELECT m.volume_id, v.name, m.path FROM sandbox_volume_mounts m "
                     + "JOIN volumes v ON v.id = m.volume_id WHERE m.sandbox_id = ? ORDER BY m.position")) {
            st.setString(1, sandboxId);
            List<MountRecord> out = new ArrayList<>();
            try (ResultSet rs = st.executeQuery()) {
                while (rs.next()) {
                    out.add(new MountRecord(rs.getString(1), rs.getString(2), rs.getString(3)));
                }
            }
            return out;
        } catch (SQLException e) {
            throw new StoreException("reading the volume mounts of sandbox " + sandboxId, e);
        }
    }

    /** IDs of the sandboxes that have the volume mounted. */
    public List<String> mountedBy(String volumeId) {
        try (Connection c = db.getConnection();
             PreparedStatement st = c.prepareStatement(
                     "SELECT DISTINCT sandbox_id FROM sandbox_volume_mounts WHERE volume_id = ? ORDER BY sandbox_id")) {
            st.setString(1, volumeId);
            List<String> out = new ArrayList<>();
            try (ResultSet rs = st.executeQuery()) {
                while (rs.next()) {
                    out.add(rs.getString(1));
                }
            }
            return out;
        } catch (SQLException e) {
            throw new StoreException("reading the sandboxes that mount volume " + volumeId, e);
        }
    }

    private interface Binder {
        void bind(PreparedStatement st) throws SQLException;
    }

    private List<VolumeRecord> query(String sql, String what, Binder binder) {
        try (Connection c = db.getConnection(); PreparedStatement st = c.prepareStatement(sql)) {
            binder.bind(st);
            List<VolumeRecord> out = new ArrayList<>();
            try (ResultSet rs = st.executeQuery()) {
                while (rs.next()) {
                    out.add(new VolumeRecord(rs.getString("id"), rs.getObject("team_id").toString(), rs.getString("name"),
                            rs.getString("token_salt"), rs.getString("token_hash"),
                            rs.getObject("created_at", java.time.OffsetDateTime.class).toInstant()));
                }
            }
            return out;
        } catch (SQLException e) {
            throw new StoreException(what, e);
        }
    }
}
