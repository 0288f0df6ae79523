package io.sandboxd.daemon.orchestrator.cluster;

import java.util.Comparator;
import java.util.List;
import java.util.Optional;

/**
 * Where a create goes: a live node that has the template ready and room for one more sandbox, the least loaded of
 * them; on a tie the node that took the request (one hop fewer), then the lowest ID, so the choice is stable.
 */
public final class Placement {
    private Placement() {
    }

    /**
     * @param templateKey the template entry the create needs (see {@code Orchestrator.templateKey}), or null when
     *                    the store does not know the template: then any node will do, and its create says NOT_FOUND
     * @return empty when no live node can take it
     */
    public static Optional<NodeInfo> choose(List<NodeInfo> live, String templateKey, String self) {
        return live.stream()
                .filter(NodeInfo::accepts)
                .filter(n -> templateKey == null || n.templates().contains(templateKey))
                .min(Comparator.comparingDouble(NodeInfo::load)
                        .thenComparing(n -> !n.id().equals(self))
                        .thenComparing(NodeInfo::id));
    }

    /** Why {@link #choose} found nothing, for the error the client gets. */
    public static String whyNone(List<NodeInfo> live, String templateKey, String reference) {
        if (live.isEmpty()) {
            return "no node of the cluster is alive";
        }
        List<NodeInfo> withTemplate = live.stream()
                .filter(n -> templateKey == null || n.templates().contains(templateKey)).toList();
        if (withTemplate.isEmpty()) {
            return "template '" + reference + "' is ready on no live node (live: "
                    + String.join(", ", live.stream().map(NodeInfo::id).toList()) + ")";
        }
        return "every node with template '" + reference + "' is full or draining ("
                + String.join(", ", withTemplate.stream().map(n -> n.id() + " " + n.hosted() + "/" + n.capacity()
                        + (n.draining() ? " draining" : "")).toList()) + ")";
    }
}
