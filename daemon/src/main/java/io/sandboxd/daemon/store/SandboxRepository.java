package io.sandboxd.daemon.store;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;

import javax.sql.DataSource;

/**
 * Sandboxes that exist: their lifecycle state, metadata (jsonb, filtered with {@code @>}), resources, options and
 * TTL. State changes are compare-and-set so that concurrent requests on one sandbox get one winner.
 */
public final class SandboxRepository {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String COLUMNS = "id, team_id, template_id, build_id, alias, state, metadata, cpu_count, "
            + "memory_mb, disk_size_mb, envd_version, secure, allow_internet_access, network, auto_pause, "
            + "auto_pause_memory, auto_resume, runtime, started_at, end_at";

    private final DataSource db;
    /** The node whose rows inserts write and reconciliation and TTL scans read ('' on a single host). */
    private final String nodeId;

    SandboxRepository(DataSource db, String nodeId) {
        this.db = db;
        this.nodeId = nodeId;
    }

    /** The orchestrator's states; the API shows transitions as their nearest stable state. */
    public enum Lifecycle {
        CREATING, RUNNING, PAUSING, PAUSED, RESUMING, KILLING;

        String sql() {
            return name().toLowerCase(Locale.ROOT);
        }

        static Lifecycle of(String sql) {
            return valueOf(sql.toUpperCase(Locale.ROOT));
        }
    }

    /** One stored sandbox. Times are kept to the microsecond (PostgreSQL's precision). */
    public record SandboxRecord(String id, String teamId, String templateId, UUID buildId, String alias,
                                Lifecycle state, Map<String, String> metadata, int cpuCount, int memoryMb,
                                int diskSizeMb, String envdVersion, boolean secure, boolean allowInternetAccess,
                                NetworkRow network, boolean autoPause, boolean autoPauseMemory,
                                boolean autoResume, String runtime, Instant startedAt, Instant endAt) {
        public SandboxRecord {
            metadata = Map.copyOf(metadata);
            startedAt = startedAt.truncatedTo(ChronoUnit.MICROS);
            endAt = endAt.truncatedTo(ChronoUnit.MICROS);
        }
    }

    /**
     * What a list keeps: all given conditions hold.
     *
     * @param template a template ID or alias, or null
     */
    public record Filter(Set<Lifecycle> states, Map<String, String> metadata, String template, Instant startedAfter,
                         boolean ascending) {
        public Filter {
            states = Set.copyOf(states);
            metadata = Map.copyOf(metadata);
        }
    }

    /** @param nextToken null on the last page */
    public record Page(List<SandboxRecord> sandboxes, String nextToken) {}

    /**
     * Adds a new sandbox's row, in one round trip, committed without waiting for the WAL to reach the disk: the
     * statement turns {@code synchronous_commit} off for its own (implicit) transaction in its {@code RETURNING}
     * clause, which runs before that transaction commits. The flush was 2-7 ms of every create on this host's disk.
     * Only a crash of PostgreSQL itself (not of the daemon) within the WAL writer's delay (200 ms) can lose such a
     * row; the sandbox's jail is then unknown to the store, and the runtime's reconciliation at the next start
     * removes it, as it does for a daemon that died in the middle of a create.
     */
    public void insert(SandboxRecord s) {
        try (Connection c = db.getConnection();
             PreparedStatement st = c.prepareStatement("INSERT INTO sandboxes (" + COLUMNS + ", node_id) VALUES (?, ?, ?, ?, "
                     + "?, ?, ?::jsonb, ?, ?, ?, ?, ?, ?, ?::jsonb, ?, ?, ?, ?, ?, ?, ?)"
                     + " RETURNING set_config('synchronous_commit', 'off', true)")) {
            st.setString(1, s.id());
            st.setObject(2, UUID.fromString(s.teamId()));
            st.setString(3, s.templateId());
            st.setObject(4, s.buildId());
            st.setString(5, s.alias());
            st.setString(6, s.state().sql());
            st.setString(7, json(s.metadata()));
            st.setInt(8, s.cpuCount());
            st.setInt(9, s.memoryMb());
            st.setInt(10, s.diskSizeMb());
            st.setString(11, s.envdVersion());
            st.setBoolean(12, s.secure());
            st.setBoolean(13, s.allowInternetAccess());
            st.setString(14, json(s.network()));
            st.setBoolean(15, s.autoPause());
            st.setBoolean(16, s.autoPauseMemory());
            st.setBoolean(17, s.autoResume());
            st.setString(18, s.runtime());
            st.setTimestamp(19, Timestamp.from(s.startedAt()));
            st.setTimestamp(20, Timestamp.from(s.endAt()));
            st.setString(21, nodeId);
            try (ResultSet rs = st.executeQuery()) {
                if (!rs.next()) {
                    throw new SQLException("the insert returned no row");
                }
            }
        } catch (SQLException e) {
            throw new StoreException("inserting sandbox " + s.id(), e);
        }
    }

    public Optional<SandboxRecord> find(String id) {
        List<SandboxRecord> found = query("SELECT " + COLUMNS + " FROM sandboxes WHERE id = ?", List.of(id));
        return found.stream().findFirst();
    }

    /** The sandbox if it belongs to {@code teamId}: another team's sandbox is as absent as a missing one. */
    public Optional<SandboxRecord> findForTeam(String teamId, String id) {
        return find(id).filter(s -> s.teamId().equals(teamId));
    }

    /** Moves {@code id} from {@code expected} to {@code next}; false when it was not in {@code expected}. */
    public boolean transition(String id, Lifecycle expected, Lifecycle next) {
        return update("UPDATE sandboxes SET state = ?, updated_at = now() WHERE id = ? AND state = ?",
                next.sql(), id, expected.sql()) == 1;
    }

    /** Sets the TTL end (it may shorten it). */
    public boolean setEndAt(String id, Instant endAt) {
        return update("UPDATE sandboxes SET end_at = ?, updated_at = now() WHERE id = ?",
                Timestamp.from(endAt.truncatedTo(ChronoUnit.MICROS)), id) == 1;
    }

    /** Moves the TTL end to {@code endAt} only if that is later (connect on a running sandbox only extends). */
    public boolean extendEndAt(String id, Instant endAt) {
        return update("UPDATE sandboxes SET end_at = greatest(end_at, ?), updated_at = now() WHERE id = ?",
                Timestamp.from(endAt.truncatedTo(ChronoUnit.MICROS)), id) == 1;
    }

    /** Replaces the egress settings (the allowOut and denyOut of the network column, and internet access). */
    public boolean setEgress(String id, boolean allowInternetAccess, List<String> allowOut, List<String> denyOut) {
        return update("UPDATE sandboxes SET allow_internet_access = ?, network = jsonb_set(jsonb_set(network, '{allowOut}', "
                        + "?::jsonb), '{denyOut}', ?::jsonb), updated_at = now() WHERE id = ?",
                allowInternetAccess, json(allowOut), json(denyOut), id) == 1;
    }

    public boolean delete(String id) {
        return update("DELETE FROM sandboxes WHERE id = ?", id) == 1;
    }

    /** This node's sandboxes in these states (start-up reconciliation). */
    public List<SandboxRecord> inStates(Set<Lifecycle> states) {
        return query("SELECT " + COLUMNS + " FROM sandboxes WHERE node_id = ? AND state = ANY (?) ORDER BY started_at, id",
                List.of(nodeId, (Object) states.stream().map(Lifecycle::sql).toArray(String[]::new)));
    }

    /** This node's running sandboxes whose TTL ended at or before {@code now}. */
    public List<SandboxRecord> expired(Instant now) {
        return query("SELECT " + COLUMNS + " FROM sandboxes WHERE node_id = ? AND state = 'running' AND end_at <= ? "
                + "ORDER BY end_at", List.of(nodeId, Timestamp.from(now)));
    }

    /** The node that runs sandbox {@code id} ('' on a single host), if the row exists. */
    public Optional<String> nodeOf(String id) {
        try (Connection c = db.getConnection();
             PreparedStatement st = c.prepareStatement("SELECT node_id FROM sandboxes WHERE id = ?")) {
            st.setString(1, id);
            try (ResultSet rs = st.executeQuery()) {
                return rs.next() ? Optional.of(rs.getString(1)) : Optional.empty();
            }
        } catch (SQLException e) {
            throw new StoreException("reading the node of sandbox " + id, e);
        }
    }

    /**
     * One page of a team's sandboxes by start time, with keyset paging: the token names the last row returned, so
     * pages stay consistent while sandboxes come and go.
     *
     * @throws IllegalArgumentException for a token this repository did not issue
     */
    public Page page(String teamId, Filter f, int limit, String pageToken) {
        if (limit < 1) {
            throw new IllegalArgumentException("limit must be positive");
        }
        StringBuilder sql = new StringBuilder("SELECT " + COLUMNS + " FROM sandboxes s WHERE team_id = ? "
                + "AND state = ANY (?)");
        List<Object> args = new ArrayList<>(List.of(UUID.fromString(teamId),
                f.states().stream().map(Lifecycle::sql).toArray(String[]::new)));
        if (!f.metadata().isEmpty()) {
            sql.append(" AND metadata @> ?::jsonb");
            args.add(json(f.metadata()));
        }
        if (f.template() != null) {
            sql.append(" AND (template_id = ? OR template_id IN (SELECT template_id FROM template_aliases "
                    + "WHERE alias = ?))");
            args.add(f.template());
            args.add(f.template());
        }
        if (f.startedAfter() != null) {
            sql.append(" AND started_at > ?");
            args.add(Timestamp.from(f.startedAfter()));
        }
        if (pageToken != null) {
            Cursor cursor = Cursor.decode(pageToken);
            sql.append(f.ascending() ? " AND (started_at, id) > (?, ?)" : " AND (started_at, id) < (?, ?)");
            args.add(Timestamp.from(cursor.startedAt()));
            args.add(cursor.id());
        }
        String dir = f.ascending() ? "ASC" : "DESC";
        sql.append(" ORDER BY started_at ").append(dir).append(", id ").append(dir).append(" LIMIT ?");
        long fetch = limit == Integer.MAX_VALUE ? Integer.MAX_VALUE : limit + 1L;
        args.add(fetch);
        List<SandboxRecord> rows = query(sql.toString(), args);
        if (rows.size() <= limit) {
            return new Page(rows, null);
        }
        List<SandboxRecord> page = rows.subList(0, limit);
        SandboxRecord last = page.getLast();
        return new Page(List.copyOf(page), new Cursor(last.startedAt(), last.id()).encode());
    }

    /** Where a page ended: base64url of {@code <epoch micros>:<sandbox id>}. */
    record Cursor(Instant startedAt, String id) {
        String encode() {
            long micros = ChronoUnit.MICROS.between(Instant.EPOCH, startedAt);
            return Base64.getUrlEncoder().withoutPadding()
                    .encodeToString((micros + ":" + id).getBytes(StandardCharsets.UTF_8));
        }

        static Cursor decode(String token) {
            try {
                String s = new String(Base64.getUrlDecoder().decode(token), StandardCharsets.UTF_8);
                int colon = s.indexOf(':');
                String id = s.substring(colon + 1);
                if (colon < 1 || !id.matches("[a-z0-9]+")) {
                    throw new IllegalArgumentException("malformed");
                }
                return new Cursor(Instant.EPOCH.plus(Long.parseLong(s.substring(0, colon)), ChronoUnit.MICROS), id);
            } catch (IllegalArgumentException | ArithmeticException e) {
                throw new IllegalArgumentException("invalid page token '" + token + "'", e);
            }
        }
    }

    private int update(String sql, Object... args) {
        try (Connection c = db.getConnection(); PreparedStatement st = c.prepareStatement(sql)) {
            bind(c, st, List.of(args));
            return st.executeUpdate();
        } catch (SQLException e) {
            throw new StoreException("updating sandboxes", e);
        }
    }

    private List<SandboxRecord> query(String sql, List<Object> args) {
        List<SandboxRecord> out = new ArrayList<>();
        try (Connection c = db.getConnection(); PreparedStatement st = c.prepareStatement(sql)) {
            bind(c, st, args);
            try (ResultSet rs = st.executeQuery()) {
                while (rs.next()) {
                    out.add(read(rs));
                }
            }
        } catch (SQLException e) {
            throw new StoreException("reading sandboxes", e);
        }
        return out;
    }

    private static void bind(Connection c, PreparedStatement st, List<Object> args) throws SQLException {
        for (int i = 0; i < args.size(); i++) {
            Object a = args.get(i);
            if (a instanceof String[] array) {
                st.setArray(i + 1, c.createArrayOf("text", array));
            } else {
                st.setObject(i + 1, a);
            }
        }
    }

    private static SandboxRecord read(ResultSet rs) throws SQLException {
        return new SandboxRecord(rs.getString("id"), rs.getString("team_id"), rs.getString("template_id"),
                rs.getObject("build_id", UUID.class), rs.getString("alias"), Lifecycle.of(rs.getString("state")),
                parse(rs.getString("metadata"), new TypeReference<Map<String, String>>() {}),
                rs.getInt("cpu_count"), rs.getInt("memory_mb"), rs.getInt("disk_size_mb"),
                rs.getString("envd_version"), rs.getBoolean("secure"), rs.getBoolean("allow_internet_access"),
                parse(rs.getString("network"), new TypeReference<NetworkRow>() {}), rs.getBoolean("auto_pause"),
                rs.getBoolean("auto_pause_memory"), rs.getBoolean("auto_resume"), rs.getString("runtime"),
                rs.getTimestamp("started_at").toInstant(), rs.getTimestamp("end_at").toInstant());
    }

    private static String json(Object value) {
        try {
            return JSON.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("cannot store as JSON: " + value, e);
        }
    }

    private static <T> T parse(String json, TypeReference<T> type) {
        try {
            return JSON.readValue(json, type);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("stored JSON does not parse: " + json, e);
        }
    }

}
