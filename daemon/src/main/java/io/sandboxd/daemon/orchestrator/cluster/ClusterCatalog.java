package io.sandboxd.daemon.orchestrator.cluster;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import redis.clients.jedis.JedisPooled;
import redis.clients.jedis.params.SetParams;

/**
 * The cluster's shared state in Redis: which nodes are alive (a heartbeat key per node that expires unless renewed)
 * and which node runs each sandbox (read by every proxy and API node), plus the sandboxes of nodes that died.
 *
 * <p>Keys, under a prefix ({@code sbx} by default):
 * <ul>
 *   <li>{@code <p>:nodes} set of every node ID ever seen; {@code <p>:node:<id>} its last heartbeat (JSON), with a
 *       time to live: a node whose key expired is dead</li>
 *   <li>{@code <p>:route:<sandbox>} the node ID that runs it; {@code <p>:hosted:<node>} set of its sandboxes</li>
 *   <li>{@code <p>:lost} hash sandbox ID -> "node at time", for sandboxes of a node that died</li>
 *   <li>{@code <p>:drain:<id>} present while a node is drained</li>
 *   <li>{@code <p>:fingerprint} what every node's token secrets must hash to</li>
 * </ul>
 * Every method is one or a few blocking round trips: callers are worker threads, never an event loop.
 */
public final class ClusterCatalog implements AutoCloseable {
    private static final ObjectMapper JSON = JsonMapper.builder().build();
    /** The key prefix every node and the admin CLI use. */
    public static final String PREFIX = "sbx";

    /** The live nodes (heartbeat present) and the IDs of nodes whose heartbeat expired. */
    public record Membership(List<NodeInfo> live, Set<String> dead) {
        public Membership {
            live = List.copyOf(live);
            dead = Set.copyOf(dead);
        }

        public Optional<NodeInfo> node(String id) {
            return live.stream().filter(n -> n.id().equals(id)).findFirst();
        }
    }

    /** Where a sandbox is: its node, or the note left when that node died. */
    public sealed interface Route {
        record OnNode(String nodeId) implements Route {}

        record Lost(String note) implements Route {}

        record Unknown() implements Route {}
    }

    private final JedisPooled redis;
    private final String prefix;

    public ClusterCatalog(String redisUrl, String prefix) {
        this(new JedisPooled(redisUrl), prefix);
    }

    ClusterCatalog(JedisPooled redis, String prefix) {
        if (!prefix.matches("[a-z0-9_-]{1,32}")) {
            throw new IllegalArgumentException("key prefix '" + prefix + "' must be 1-32 of [a-z0-9_-]");
        }
        this.redis = redis;
        this.prefix = prefix;
    }

    /** Fails with the client's message when Redis does not answer (at start-up, before anything else is done). */
    public void ping() {
        redis.ping();
    }

    /**
     * Joins (or rejoins) with the secrets' fingerprint: the first node sets it, every later one must match, since
     * sandbox tokens minted on one node are checked on all of them.
     *
     * @return empty when it matches, else what the cluster has
     */
    public Optional<String> checkFingerprint(String fingerprint) {
        String key = prefix + ":fingerprint";
        redis.set(key, fingerprint, SetParams.setParams().nx());
        String have = redis.get(key);
        return fingerprint.equals(have) ? Optional.empty() : Optional.ofNullable(have);
    }

    /** Renews this node's heartbeat, which lives {@code ttl} unless renewed again. */
    public void heartbeat(NodeInfo node, Duration ttl) {
        String json;
        try {
            json = JSON.writeValueAsString(node);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        redis.sadd(prefix + ":nodes", node.id());
        redis.set(prefix + ":node:" + node.id(), json, SetParams.setParams().px(ttl.toMillis()));
    }

    /** A node that stops on purpose says so at once instead of letting its heartbeat expire. */
    public void leave(String nodeId) {
        redis.del(prefix + ":node:" + nodeId);
    }

    public Membership membership() {
        List<NodeInfo> live = new ArrayList<>();
        Set<String> dead = new TreeSet<>();
        for (String id : new TreeSet<>(redis.smembers(prefix + ":nodes"))) {
            node(id).ifPresentOrElse(live::add, () -> dead.add(id));
        }
        return new Membership(live, dead);
    }

    /** One node's heartbeat as it is now: empty when it expired (or nobody can read it, which is as good as none). */
    public Optional<NodeInfo> node(String id) {
        String json = redis.get(prefix + ":node:" + id);
        if (json == null) {
            return Optional.empty();
        }
        try {
            NodeInfo n = JSON.readValue(json, NodeInfo.class);
            return Optional.of(new NodeInfo(n.id(), n.nodeService(), n.proxy(), n.capacity(), n.hosted(),
                    n.templates(), n.draining() || redis.exists(prefix + ":drain:" + id)));
        } catch (IOException | IllegalArgumentException e) {
            return Optional.empty();
        }
    }

    /** Drains (or undrains) a node: placement skips it; its sandboxes stay where they are. */
    public void setDraining(String nodeId, boolean draining) {
        if (draining) {
            redis.set(prefix + ":drain:" + NodeInfo.checkId(nodeId), "1");
        } else {
            redis.del(prefix + ":drain:" + NodeInfo.checkId(nodeId));
        }
    }

    public boolean draining(String nodeId) {
        return redis.exists(prefix + ":drain:" + nodeId);
    }

    /** Sandbox {@code sandboxId} now runs on {@code nodeId} (and is no longer marked lost). */
    public void route(String sandboxId, String nodeId) {
        redis.set(prefix + ":route:" + sandboxId, nodeId);
        redis.sadd(prefix + ":hosted:" + nodeId, sandboxId);
        redis.hdel(prefix + ":lost", sandboxId);
    }

    /** The sandbox is gone from {@code nodeId}. */
    public void unroute(String sandboxId, String nodeId) {
        String key = prefix + ":route:" + sandboxId;
        if (nodeId.equals(redis.get(key))) {
            redis.del(key);
        }
        redis.srem(prefix + ":hosted:" + nodeId, sandboxId);
    }

    /**
     * Makes the routes of {@code nodeId} exactly {@code hosted}: what it no longer runs is unrouted, what it runs
     * (after a create whose route was lost, or adopted at a restart) is routed. The heartbeat calls it, so routes
     * heal on their own.
     */
    public void syncRoutes(String nodeId, Set<String> hosted) {
        Set<String> routed = redis.smembers(prefix + ":hosted:" + nodeId);
        for (String id : routed) {
            if (!hosted.contains(id)) {
                unroute(id, nodeId);
            }
        }
        for (String id : hosted) {
            if (!routed.contains(id) || !nodeId.equals(redis.get(prefix + ":route:" + id))) {
                route(id, nodeId);
            }
        }
    }

    public Route routeOf(String sandboxId) {
        String node = redis.get(prefix + ":route:" + sandboxId);
        if (node != null) {
            return new Route.OnNode(node);
        }
        String lost = redis.hget(prefix + ":lost", sandboxId);
        return lost != null ? new Route.Lost(lost) : new Route.Unknown();
    }

    /**
     * A dead node's sandboxes are marked lost (their routes removed, a note kept per sandbox), once: a second call
     * finds nothing left to mark.
     *
     * @return the sandboxes marked now
     */
    public List<String> markLost(String nodeId, Instant now) {
        String hostedKey = prefix + ":hosted:" + nodeId;
        List<String> marked = new ArrayList<>();
        Map<String, String> notes = new HashMap<>();
        for (String id : redis.smembers(hostedKey)) {
            String key = prefix + ":route:" + id;
            if (nodeId.equals(redis.get(key))) {
                redis.del(key);
                notes.put(id, lostNote(nodeId) + now);
                marked.add(id);
            }
        }
        if (!notes.isEmpty()) {
            redis.hset(prefix + ":lost", notes);
        }
        redis.del(hostedKey);
        return marked;
    }

    /** Lost sandboxes and their notes. */
    public Map<String, String> lost() {
        return redis.hgetAll(prefix + ":lost");
    }

    /** How many lost sandboxes each dead node left (nodes that left none are absent). */
    public Map<String, Long> lostByNode() {
        Map<String, Long> counts = new HashMap<>();
        for (String note : lost().values()) {
            if (note.startsWith("node ")) {
                int end = note.indexOf(' ', "node ".length());
                if (end > 0 && note.startsWith(LOST_NOTE, end)) {
                    counts.merge(note.substring("node ".length(), end), 1L, Long::sum);
                }
            }
        }
        return counts;
    }

    private static final String LOST_NOTE = " stopped answering at ";

    /** The start of a lost sandbox's note; the time it was marked follows. */
    private static String lostNote(String nodeId) {
        return "node " + nodeId + LOST_NOTE;
    }

    @Override
    public void close() {
        redis.close();
    }
}
