package io.sandboxd.daemon.network;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.sandboxd.daemon.host.CommandFailedException;
import io.sandboxd.daemon.host.HostCommand;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;

/**
 * The nftables table (family {@code inet}, named after the config's prefix) that decides what sandboxes may
 * reach. One table holds every rule, so removing it removes everything; per-sandbox state is only the membership
 * of the sandbox's host veth in the {@code egress} set, so turning internet access on or off is one atomic set
 * update and a killed sandbox leaves no rule behind.
 *
 * <p>Policy, in order: replies to a sandbox's own connections come in; nothing else enters a sandbox (so one
 * sandbox cannot reach another); a sandbox not in {@code egress} sends nothing through the host; DNS to the
 * configured resolvers passes; the denied ranges (private, link-local, ...) are dropped; other IPv4 leaves with
 * masquerade; IPv6 is dropped (sandboxes have no IPv6 route). Towards the host itself a sandbox may only answer
 * the host's own connections (the host calling envd).
 */
public final class EgressFirewall {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Path IP_FORWARD = Path.of("/proc/sys/net/ipv4/ip_forward");

    private final NetworkConfig config;
    private boolean enabledForwarding;

    EgressFirewall(NetworkConfig config) {
        this.config = config;
    }

    /**
     * Creates (or replaces) the table. Turns on IPv4 forwarding if it was off, which NAT needs; in that case the
     * table also drops forwarded traffic that does not involve a sandbox, so the host does not start routing
     * between its other interfaces as a side effect.
     */
    synchronized void install() {
        enabledForwarding = enableForwarding();
        String table = config.nftTable();
        String veths = "\"" + config.namePrefix() + "h*\"";
        StringBuilder r = new StringBuilder();
        // "add table" + "delete table" makes the load idempotent: a leftover table from a crashed run is replaced.
        r.append("add table inet ").append(table).append('\n');
        r.append("delete table inet ").append(table).append('\n');
        r.append("table inet ").append(table).append(" {\n");
        r.append("  set egress { type ifname; }\n");
        r.append("  set dns { type ipv4_addr; flags interval; ").append(elements(config.dnsServers())).append("}\n");
        r.append("  set denied { type ipv4_addr; flags interval; ")
                .append(elements(config.deniedRanges().stream().map(Ipv4Cidr::toString).toList())).append("}\n");
        r.append("  chain forward {\n    type filter hook forward priority filter; policy accept;\n");
        if (enabledForwarding) {
            r.append("    iifname != ").append(veths).append(" oifname != ").append(veths).append(" drop\n");
        }
        r.append("    oifname ").append(veths).append(" ct state established,related accept\n");
        r.append("    oifname ").append(veths).append(" drop\n");
        r.append("    iifname ").append(veths).append(" iifname != @egress drop\n");
        r.append("    iifname ").append(veths).append(" ip daddr @dns meta l4proto { tcp, udp } th dport 53 accept\n");
        r.append("    iifname ").append(veths).append(" ip daddr @denied drop\n");
        r.append("    iifname ").append(veths).append(" meta nfproto ipv4 accept\n");
        r.append("    iifname ").append(veths).append(" drop\n  }\n");
        r.append("  chain input {\n    type filter hook input priority filter; policy accept;\n");
        r.append("    iifname ").append(veths).append(" ct state established,related accept\n");
        r.append("    iifname ").append(veths).append(" drop\n  }\n");
        r.append("  chain postrouting {\n    type nat hook postrouting priority srcnat; policy accept;\n");
        r.append("    ip saddr ").append(config.subnet()).append(" oifname != ").append(veths).append(" masquerade\n  }\n");
        r.append("}\n");
        HostCommand.check(List.of("nft", "-f", "-"), r.toString());
    }

    /** Deletes the table; restores IPv4 forwarding to off if {@link #install()} turned it on. */
    synchronized void uninstall() {
        HostCommand.Result r = HostCommand.run(List.of("nft", "delete", "table", "inet", config.nftTable()));
        if (!r.ok() && !r.stderr().contains("No such file or directory")) {
            throw new CommandFailedException(r);
        }
        if (enabledForwarding) {
            writeForwarding("0");
            enabledForwarding = false;
        }
    }

    boolean installed() {
        return HostCommand.run(List.of("nft", "list", "table", "inet", config.nftTable())).ok();
    }

    void allowEgress(String hostVeth) {
        HostCommand.check(List.of("nft", "add", "element", "inet", config.nftTable(), "egress", "{ " + hostVeth + " }"));
    }

    /** Takes the veth out of the egress set; a veth that is not in it is fine. */
    void denyEgress(String hostVeth) {
        HostCommand.Result r = HostCommand.run(
                List.of("nft", "delete", "element", "inet", config.nftTable(), "egress", "{ " + hostVeth + " }"));
        if (!r.ok() && egressMembers().contains(hostVeth)) {
            throw new CommandFailedException(r);
        }
    }

    /** The host veths currently allowed out; empty when the table does not exist. */
    List<String> egressMembers() {
        HostCommand.Result r = HostCommand.run(List.of("nft", "-j", "list", "set", "inet", config.nftTable(), "egress"));
        if (!r.ok()) {
            return List.of();
        }
        List<String> out = new ArrayList<>();
        try {
            for (JsonNode n : JSON.readTree(r.stdout()).path("nftables")) {
                for (JsonNode e : n.path("set").path("elem")) {
                    out.add(e.asText());
                }
            }
        } catch (IOException e) {
            throw new IllegalStateException("nft printed JSON this code cannot read: " + r.stdout(), e);
        }
        return out;
    }

    private static String elements(List<String> values) {
        return values.isEmpty() ? "" : "elements = { " + values.stream().collect(Collectors.joining(", ")) + " }; ";
    }

    private static boolean enableForwarding() {
        try {
            if (Files.readString(IP_FORWARD).trim().equals("1")) {
                return false;
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot read " + IP_FORWARD + ": " + e.getMessage(), e);
        }
        writeForwarding("1");
        return true;
    }

    private static void writeForwarding(String value) {
        try {
            Files.writeString(IP_FORWARD, value);
        } catch (IOException e) {
            throw new IllegalStateException("cannot write " + IP_FORWARD + " (sandboxd must run as root): " + e.getMessage(), e);
        }
    }
}
