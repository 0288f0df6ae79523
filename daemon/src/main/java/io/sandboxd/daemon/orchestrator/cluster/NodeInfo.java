package io.sandboxd.daemon.orchestrator.cluster;

import java.util.Set;
import java.util.regex.Pattern;

/**
 * What a node of a cluster tells the others in its heartbeat: where to reach it, how full it is and which templates
 * it can create sandboxes from.
 *
 * @param id          {@code --node-id}
 * @param nodeService host:port of its gRPC node service
 * @param proxy       host:port of its sandbox proxy (other nodes' proxies forward traffic there)
 * @param capacity    most sandboxes it takes ({@code --node-capacity})
 * @param hosted      sandboxes it runs or holds paused now
 * @param templates   what creates can start from there (template IDs and tagged builds)
 * @param draining    takes no new sandboxes ({@code sandboxd node drain})
 */
public record NodeInfo(String id, String nodeService, String proxy, int capacity, int hosted, Set<String> templates,
                       boolean draining) {
    private static final Pattern ID = Pattern.compile("[a-z0-9][a-z0-9-]{0,31}");

    public NodeInfo {
        checkId(id);
        templates = Set.copyOf(templates);
        if (capacity < 0 || hosted < 0) {
            throw new IllegalArgumentException("capacity and hosted count must not be negative");
        }
    }

    /** Node IDs go into Redis keys and database rows: 1-32 of [a-z0-9-], starting with a letter or digit. */
    public static String checkId(String id) {
        if (id == null || !ID.matcher(id).matches()) {
            throw new IllegalArgumentException("node id '" + id + "' must be 1-32 of [a-z0-9-], starting with a letter "
                    + "or digit");
        }
        return id;
    }

    /** Room for one more sandbox, and not draining. */
    public boolean accepts() {
        return !draining && hosted < capacity;
    }

    /** How full it is, 0 (empty) to 1 (at capacity). */
    public double load() {
        return capacity == 0 ? 1.0 : (double) hosted / capacity;
    }
}
