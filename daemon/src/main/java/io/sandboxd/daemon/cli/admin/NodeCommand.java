package io.sandboxd.daemon.cli.admin;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.sandboxd.daemon.orchestrator.cluster.ClusterCatalog;
import io.sandboxd.daemon.orchestrator.cluster.NodeInfo;
import java.io.PrintWriter;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code sandboxd node list|drain}: the nodes of a cluster, read from and written to its catalog in Redis (the
 * cluster's own control plane; no single daemon's API knows every node).
 */
@Command(name = "node", mixinStandardHelpOptions = true,
        description = "Nodes of a cluster (its Redis catalog): list them, drain one or undrain it.",
        subcommands = {NodeCommand.ListNodes.class, NodeCommand.Drain.class})
public final class NodeCommand implements Runnable {
    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    abstract static class NodeCall implements Callable<Integer> {
        @Option(names = "--redis", defaultValue = "${env:SANDBOXD_REDIS_URL}", paramLabel = "URL",
                description = "The cluster's Redis, as given to serve --redis (env SANDBOXD_REDIS_URL).")
        String redis;
        @Mixin
        OutputFormat format = new OutputFormat();
        @Spec
        CommandSpec spec;

        ClusterCatalog catalog() {
            if (redis == null || redis.isBlank()) {
                throw new AdminException(ExitCode.USAGE, "no cluster: pass --redis redis://host:port (or set "
                        + "SANDBOXD_REDIS_URL)");
            }
            ClusterCatalog c;
            try {
                c = new ClusterCatalog(redis, ClusterCatalog.PREFIX);
                c.ping();
            } catch (RuntimeException e) {
                throw new AdminException(ExitCode.UNREACHABLE, "the cluster's Redis at " + redis + " does not answer: "
                        + e.getMessage(), e);
            }
            return c;
        }
    }

    @Command(name = "list", mixinStandardHelpOptions = true,
            description = "Live nodes (address, sandboxes/capacity, templates, draining) and dead ones.")
    static final class ListNodes extends NodeCall {
        @Override
        public Integer call() {
            try (ClusterCatalog c = catalog()) {
                ClusterCatalog.Membership m = c.membership();
                Map<String, Long> lost = c.lostByNode();
                PrintWriter out = spec.commandLine().getOut();
                if (format.json()) {
                    ArrayNode nodes = ApiClient.JSON.createArrayNode();
                    for (NodeInfo n : m.live()) {
                        ObjectNode o = nodes.addObject().put("nodeID", n.id()).put("state", n.draining() ? "draining" : "ready")
                                .put("nodeService", n.nodeService()).put("proxy", n.proxy()).put("sandboxes", n.hosted())
                                .put("capacity", n.capacity());
                        n.templates().stream().sorted().forEach(o.putArray("templates")::add);
                    }
                    for (String id : m.dead()) {
                        nodes.addObject().put("nodeID", id).put("state", "dead")
                                .put("lostSandboxes", lost.getOrDefault(id, 0L));
                    }
                    out.println(ApiClient.pretty(nodes));
                } else {
                    String row = "%-16s  %-9s  %-22s  %-22s  %9s  %s%n";
                    out.printf(row, "NODE", "STATE", "NODE SERVICE", "PROXY", "SANDBOXES", "TEMPLATES");
                    for (NodeInfo n : m.live()) {
                        out.printf(row, n.id(), n.draining() ? "draining" : "ready", n.nodeService(), n.proxy(),
                                n.hosted() + "/" + n.capacity(), String.join(",", n.templates().stream().sorted().toList()));
                    }
                    for (String id : m.dead()) {
                        out.printf(row, id, "dead", "-", "-", lost.getOrDefault(id, 0L) + " lost", "-");
                    }
                    if (m.live().isEmpty() && m.dead().isEmpty()) {
                        out.println("(no nodes)");
                    }
                }
                out.flush();
                return ExitCode.OK;
            }
        }
    }

    @Command(name = "drain", mixinStandardHelpOptions = true,
            description = "Stop placing new sandboxes on a node (its sandboxes stay); --undo places on it again.")
    static final class Drain extends NodeCall {
        @Parameters(index = "0", paramLabel = "NODE_ID")
        String nodeId;

        @Option(names = "--undo", description = "Undrain: the node takes new sandboxes again.")
        boolean undo;

        @Override
        public Integer call() {
            try (ClusterCatalog c = catalog()) {
                ClusterCatalog.Membership m = c.membership();
                if (m.node(nodeId).isEmpty() && !m.dead().contains(nodeId)) {
                    throw new AdminException(ExitCode.NOT_FOUND, "no node '" + nodeId + "' in the cluster at " + redis);
                }
                c.setDraining(nodeId, !undo);
                PrintWriter out = spec.commandLine().getOut();
                if (format.json()) {
                    out.println(ApiClient.pretty(ApiClient.JSON.createObjectNode().put("nodeID", nodeId)
                            .put("draining", !undo)));
                } else {
                    out.println((undo ? "undrained " : "drained ") + nodeId);
                }
                out.flush();
                return ExitCode.OK;
            }
        }
    }
}
