package io.sandboxd.daemon.store;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.UUID;
import javax.sql.DataSource;

/** Templates, the names they are known by, and their builds (a sandbox always starts from one ready build). */
public final class TemplateRepository {
    private final DataSource db;

    TemplateRepository(DataSource db) {
        this.db = db;
    }

    public enum BuildStatus {
        WAITING, BUILDING, READY, ERROR;

        String sql() {
            return name().toLowerCase(Locale.ROOT);
        }

        static BuildStatus of(String sql) {
            return valueOf(sql.toUpperCase(Locale.ROOT));
        }
    }

    /** @param teamId null for a built-in template such as {@code base} */
    public record TemplateRecord(String id, String teamId, boolean isPublic, int cpuCount, int memoryMb,
                                 List<String> aliases, Instant createdAt) {
        public TemplateRecord {
            aliases = List.copyOf(aliases);
        }
    }

    public record BuildRecord(UUID id, String templateId, BuildStatus status, String reason, int cpuCount,
                              int memoryMb, int diskSizeMb, String envdVersion, String runtime, Instant createdAt,
                              Instant finishedAt) {}

    /** Creates a template and its aliases in one transaction; an alias taken by another template fails it. */
    public TemplateRecord create(String id, String teamId, boolean isPublic, int cpuCount, int memoryMb,
                                 List<String> aliases) {
        try (Connection c = db.getConnection()) {
            c.setAutoCommit(false);
            try {
                try (PreparedStatement st = c.prepareStatement("INSERT INTO templates (id, team_id, public, cpu_count,"
                        + " memory_mb) VALUES (?, ?, ?, ?, ?)")) {
                    st.setString(1, id);
                    st.setObject(2, teamId == null ? null : UUID.fromString(teamId), Types.OTHER);
                    st.setBoolean(3, isPublic);
                    st.setInt(4, cpuCount);
                    st.setInt(5, memoryMb);
                    st.executeUpdate();
                }
                try (PreparedStatement st = c.prepareStatement(
                        "INSERT INTO template_aliases (alias, template_id) VALUES (?, ?)")) {
                    for (String alias : aliases) {
                        st.setString(1, alias);
                        st.setString(2, id);
                        st.addBatch();
                    }
                    st.executeBatch();
                }
                c.commit();
            } catch (SQLException e) {
                c.rollback();
                throw e;
            }
            return find(c, id).orElseThrow();
        } catch (SQLException e) {
            throw new StoreException("creating template " + id, e);
        }
    }

    /**
     * A public built-in template (such as {@code base}), made if it is not there yet. Every node of a cluster
     * registers the same built-ins over one database, maybe at the same moment: the row one of them made first is the
     * one all get, never a failed start.
     */
    public TemplateRecord ensureBuiltIn(String id, int cpuCount, int memoryMb) {
        try (Connection c = db.getConnection()) {
            try (PreparedStatement st = c.prepareStatement("INSERT INTO templates (id, team_id, public, cpu_count,"
                    + " memory_mb) VALUES (?, NULL, true, ?, ?) ON CONFLICT (id) DO NOTHING")) {
                st.setString(1, id);
                st.setInt(2, cpuCount);
                st.setInt(3, memoryMb);
                st.executeUpdate();
            }
            return find(c, id).orElseThrow();
        } catch (SQLException e) {
            throw new StoreException("registering built-in template " + id, e);
        }
    }

    /** A template by ID or by one of its aliases. */
    public Optional<TemplateRecord> findByIdOrAlias(String ref) {
        try (Connection c = db.getConnection();
             PreparedStatement st = c.prepareStatement("SELECT id FROM templates WHERE id = ? UNION "
                     + "SELECT template_id FROM template_aliases WHERE alias = ? LIMIT 1")) {
            st.setString(1, ref);
            st.setString(2, ref);
            try (ResultSet rs = st.executeQuery()) {
                return rs.next() ? find(c, rs.getString(1)) : Optional.empty();
            }
        } catch (SQLException e) {
            throw new StoreException("finding template " + ref, e);
        }
    }

    private static Optional<TemplateRecord> find(Connection c, String id) throws SQLException {
        try (PreparedStatement st = c.prepareStatement("SELECT t.id, t.team_id, t.public, t.cpu_count, t.memory_mb, "
                + "t.created_at, coalesce(array_agg(a.alias ORDER BY a.alias) FILTER (WHERE a.alias IS NOT NULL), "
                + "'{}') FROM templates t LEFT JOIN template_aliases a ON a.template_id = t.id WHERE t.id = ? "
                + "GROUP BY t.id")) {
            st.setString(1, id);
            try (ResultSet rs = st.executeQuery()) {
                if (!rs.next()) {
                    return Optional.empty();
                }
                List<String> aliases = List.of((String[]) rs.getArray(7).getArray());
                return Optional.of(new TemplateRecord(rs.getString(1), rs.getString(2), rs.getBoolean(3),
                        rs.getInt(4), rs.getInt(5), aliases, rs.getTimestamp(6).toInstant()));
            }
        }
    }

    /** A tag of a template and the build it names. */
    public record TagRecord(String templateId, String tag, UUID buildId, Instant createdAt) {}

    /** Points {@code tag} of the template at {@code buildId}, moving it if it named another build. */
    public TagRecord setTag(String templateId, String tag, UUID buildId) {
        try (Connection c = db.getConnection();
             PreparedStatement st = c.prepareStatement("INSERT INTO template_tags (template_id, tag, build_id) "
                     + "VALUES (?, ?, ?) ON CONFLICT (template_id, tag) DO UPDATE SET build_id = EXCLUDED.build_id, "
                     + "created_at = now() RETURNING created_at")) {
            st.setString(1, templateId);
            st.setString(2, tag);
            st.setObject(3, buildId);
            try (ResultSet rs = st.executeQuery()) {
                rs.next();
                return new TagRecord(templateId, tag, buildId, rs.getTimestamp(1).toInstant());
            }
        } catch (SQLException e) {
            throw new StoreException("tagging build " + buildId + " of " + templateId + " as " + tag, e);
        }
    }

    /** @return whether the tag existed */
    public boolean removeTag(String templateId, String tag) {
        try (Connection c = db.getConnection();
             PreparedStatement st = c.prepareStatement("DELETE FROM template_tags WHERE template_id = ? AND tag = ?")) {
            st.setString(1, templateId);
            st.setString(2, tag);
            return st.executeUpdate() == 1;
        } catch (SQLException e) {
            throw new StoreException("removing tag " + tag + " of " + templateId, e);
        }
    }

    /** The template's stored tags (not {@code default}), by name. */
    public List<TagRecord> tags(String templateId) {
        List<TagRecord> out = new ArrayList<>();
        try (Connection c = db.getConnection();
             PreparedStatement st = c.prepareStatement("SELECT tag, build_id, created_at FROM template_tags "
                     + "WHERE template_id = ? ORDER BY tag")) {
            st.setString(1, templateId);
            try (ResultSet rs = st.executeQuery()) {
                while (rs.next()) {
                    out.add(new TagRecord(templateId, rs.getString(1), rs.getObject(2, UUID.class),
                            rs.getTimestamp(3).toInstant()));
                }
            }
        } catch (SQLException e) {
            throw new StoreException("listing tags of " + templateId, e);
        }
        return out;
    }

    /** Whether a template was made from a sandbox, and how. */
    public enum SnapshotKind {
        /** {@code POST /sandboxes/{id}/snapshots}: listed under {@code /snapshots}, kept until deleted. */
        SNAPSHOT,
        /** The capture a fork's sandboxes start from: listed nowhere, removed once no sandbox uses it. */
        FORK;

        String sql() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    public record SnapshotRecord(TemplateRecord template, String sourceSandboxId, SnapshotKind kind) {}

    /** Records that {@code templateId} was made from {@code sourceSandboxId}. */
    public void markSnapshot(String templateId, String sourceSandboxId, SnapshotKind kind) {
        try (Connection c = db.getConnection();
             PreparedStatement st = c.prepareStatement("INSERT INTO template_snapshots (template_id, source_sandbox_id,"
                     + " kind) VALUES (?, ?, ?) ON CONFLICT (template_id) DO NOTHING")) {
            st.setString(1, templateId);
            st.setString(2, sourceSandboxId);
            st.setString(3, kind.sql());
            st.executeUpdate();
        } catch (SQLException e) {
            throw new StoreException("recording snapshot template " + templateId, e);
        }
    }

    /** What {@link #markSnapshot} recorded of the template, if it is one. */
    public Optional<SnapshotRecord> snapshot(String templateId) {
        List<SnapshotRecord> found = snapshots("t.template_id = ?", templateId);
        return found.isEmpty() ? Optional.empty() : Optional.of(found.getFirst());
    }

    /** The team's snapshots of {@code kind}, oldest first. */
    public List<SnapshotRecord> snapshots(String teamId, SnapshotKind kind) {
        return snapshots("t.kind = ? AND s.team_id = ?::uuid", kind.sql(), teamId);
    }

    /** Every team's snapshots of {@code kind}, oldest first. */
    public List<SnapshotRecord> snapshotsOfKind(SnapshotKind kind) {
        return snapshots("t.kind = ?", kind.sql());
    }

    private List<SnapshotRecord> snapshots(String where, String... args) {
        List<SnapshotRecord> out = new ArrayList<>();
        try (Connection c = db.getConnection();
             PreparedStatement st = c.prepareStatement("SELECT t.template_id, t.source_sandbox_id, t.kind FROM "
                     + "template_snapshots t JOIN templates s ON s.id = t.template_id WHERE " + where
                     + " ORDER BY t.created_at, t.template_id")) {
            for (int i = 0; i < args.length; i++) {
                st.setString(i + 1, args[i]);
            }
            try (ResultSet rs = st.executeQuery()) {
                while (rs.next()) {
                    String id = rs.getString(1);
                    String source = rs.getString(2);
                    SnapshotKind kind = SnapshotKind.valueOf(rs.getString(3).toUpperCase(Locale.ROOT));
                    find(c, id).ifPresent(t -> out.add(new SnapshotRecord(t, source, kind)));
                }
            }
        } catch (SQLException e) {
            throw new StoreException("listing snapshots", e);
        }
        return out;
    }

    /** The team's templates and the built-in ones (no team), oldest first; snapshots are not among them. */
    public List<TemplateRecord> listVisible(String teamId) {
        List<TemplateRecord> out = new ArrayList<>();
        try (Connection c = db.getConnection();
             PreparedStatement st = c.prepareStatement("SELECT id FROM templates WHERE (team_id IS NULL OR team_id = ?) "
                     + "AND id NOT IN (SELECT template_id FROM template_snapshots) ORDER BY created_at, id")) {
            st.setObject(1, UUID.fromString(teamId), Types.OTHER);
            try (ResultSet rs = st.executeQuery()) {
                while (rs.next()) {
                    find(c, rs.getString(1)).ifPresent(out::add);
                }
            }
        } catch (SQLException e) {
            throw new StoreException("listing templates", e);
        }
        return out;
    }

    /** Sandboxes (in any state) that start from or run on a build of the template. */
    public int sandboxCount(String templateId) {
        try (Connection c = db.getConnection();
             PreparedStatement st = c.prepareStatement("SELECT count(*) FROM sandboxes WHERE template_id = ?")) {
            st.setString(1, templateId);
            try (ResultSet rs = st.executeQuery()) {
                rs.next();
                return rs.getInt(1);
            }
        } catch (SQLException e) {
            throw new StoreException("counting sandboxes of " + templateId, e);
        }
    }

    /**
     * Deletes a template with its aliases and builds; false when it did not exist. A sandbox row still naming it
     * makes this fail (the foreign key): callers check {@link #sandboxCount} first.
     */
    public boolean delete(String templateId) {
        try (Connection c = db.getConnection();
             PreparedStatement st = c.prepareStatement("DELETE FROM templates WHERE id = ?")) {
            st.setString(1, templateId);
            return st.executeUpdate() == 1;
        } catch (SQLException e) {
            throw new StoreException("deleting template " + templateId, e);
        }
    }

    public BuildRecord createBuild(String templateId, int cpuCount, int memoryMb, int diskSizeMb, String runtime) {
        UUID id = UUID.randomUUID();
        try (Connection c = db.getConnection();
             PreparedStatement st = c.prepareStatement("INSERT INTO builds (id, template_id, status, cpu_count, "
                     + "memory_mb, disk_size_mb, runtime) VALUES (?, ?, 'waiting', ?, ?, ?, ?)")) {
            st.setObject(1, id);
            st.setString(2, templateId);
            st.setInt(3, cpuCount);
            st.setInt(4, memoryMb);
            st.setInt(5, diskSizeMb);
            st.setString(6, runtime);
            st.executeUpdate();
            return findBuild(c, id).orElseThrow();
        } catch (SQLException e) {
            throw new StoreException("creating a build of " + templateId, e);
        }
    }

    /** Moves a build along; ready and error builds get their finish time. */
    public BuildRecord updateBuild(UUID id, BuildStatus status, String reason, String envdVersion) {
        try (Connection c = db.getConnection();
             PreparedStatement st = c.prepareStatement("UPDATE builds SET status = ?, reason = ?, "
                     + "envd_version = coalesce(?, envd_version), finished_at = CASE WHEN ? THEN now() END "
                     + "WHERE id = ?")) {
            st.setString(1, status.sql());
            st.setString(2, reason);
            st.setString(3, envdVersion);
            st.setBoolean(4, status == BuildStatus.READY || status == BuildStatus.ERROR);
            st.setObject(5, id);
            if (st.executeUpdate() != 1) {
                throw new IllegalArgumentException("no build " + id);
            }
            return findBuild(c, id).orElseThrow();
        } catch (SQLException e) {
            throw new StoreException("updating build " + id, e);
        }
    }

    /** The newest ready build of a template: what sandboxes of it start from. */
    public Optional<BuildRecord> latestReadyBuild(String templateId) {
        try (Connection c = db.getConnection();
             PreparedStatement st = c.prepareStatement("SELECT id FROM builds WHERE template_id = ? AND "
                     + "status = 'ready' ORDER BY finished_at DESC, created_at DESC LIMIT 1")) {
            st.setString(1, templateId);
            try (ResultSet rs = st.executeQuery()) {
                return rs.next() ? findBuild(c, rs.getObject(1, UUID.class)) : Optional.empty();
            }
        } catch (SQLException e) {
            throw new StoreException("finding the ready build of " + templateId, e);
        }
    }

    public Optional<BuildRecord> findBuild(UUID id) {
        try (Connection c = db.getConnection()) {
            return findBuild(c, id);
        } catch (SQLException e) {
            throw new StoreException("finding build " + id, e);
        }
    }

    public List<BuildRecord> builds(String templateId) {
        List<BuildRecord> out = new ArrayList<>();
        try (Connection c = db.getConnection();
             PreparedStatement st = c.prepareStatement(
                     "SELECT id FROM builds WHERE template_id = ? ORDER BY created_at, id")) {
            st.setString(1, templateId);
            try (ResultSet rs = st.executeQuery()) {
                while (rs.next()) {
                    out.add(findBuild(c, rs.getObject(1, UUID.class)).orElseThrow());
                }
            }
        } catch (SQLException e) {
            throw new StoreException("listing builds of " + templateId, e);
        }
        return out;
    }

    private static Optional<BuildRecord> findBuild(Connection c, UUID id) throws SQLException {
        try (PreparedStatement st = c.prepareStatement("SELECT id, template_id, status, reason, cpu_count, memory_mb,"
                + " disk_size_mb, envd_version, runtime, created_at, finished_at FROM builds WHERE id = ?")) {
            st.setObject(1, id);
            try (ResultSet rs = st.executeQuery()) {
                if (!rs.next()) {
                    return Optional.empty();
                }
                return Optional.of(new BuildRecord(rs.getObject(1, UUID.class), rs.getString(2),
                        BuildStatus.of(rs.getString(3)), rs.getString(4), rs.getInt(5), rs.getInt(6), rs.getInt(7),
                        rs.getString(8), rs.getString(9), rs.getTimestamp(10).toInstant(),
                        KeyRepository.instant(rs.getTimestamp(11))));
            }
        }
    }
}
