package io.sandboxd.daemon.network;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.sandboxd.daemon.host.CommandFailedException;
import io.sandboxd.daemon.host.HostCommand;
import io.sandboxd.daemon.host.HostException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;

/**
 * The nftables table (family {@code inet}, named after the config's prefix) that decides what sandboxes may
 * reach. One table holds every rule, so removing it removes everything. A sandbox's state in it is one of two:
 * <ul>
 *   <li>open: its host veth is in the {@code egress} set (internet access, no rules);</li>
 *   <li>restricted: its veth maps to a chain of its own ({@code out_<veth>}, through the {@code filters} verdict
 *       map) that holds its allow and deny rules, and, when it has domain rules, to a NAT chain
 *       ({@code nat_<veth>}, through {@code intercept}) that redirects its connections to ports 80 and 443 to the
 *       egress proxy, which reads the name they ask for.</li>
 * </ul>
 * A veth in neither sends nothing through the host, so a sandbox fails closed. Every change to one sandbox is one
 * nft transaction through the persistent {@link NftSession}.
 *
 * <p>Policy, in order: replies to a sandbox's own connections come in; nothing else enters a sandbox (so one
 * sandbox cannot reach another); a restricted sandbox's own chain decides; a sandbox not in {@code egress} sends
 * nothing; DNS to the configured resolvers passes; the denied ranges (private, link-local, ...) are dropped; other
 * IPv4 leaves with masquerade; IPv6 is dropped (sandboxes have no IPv6 route). Towards the host itself a sandbox
 * may only answer the host's own connections (the host calling envd) and reach the egress proxy through a redirect.
 */
public final class EgressFirewall {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Path IP_FORWARD = Path.of("/proc/sys/net/ipv4/ip_forward");

    static final List<Integer> INTERCEPTED_PORTS = List.of(80, 443);

    private final NetworkConfig config;
    private final NftSession nft = new NftSession();
    private boolean enabledForwarding;
    private int proxyPort;

    EgressFirewall(NetworkConfig config) {
        this.config = config;
    }

    /**
     * Creates (or replaces) the table. Turns on IPv4 forwarding if it was off, which NAT needs; in that case the
     * table also drops forwarded traffic that does not involve a sandbox, so the host does not start routing
     * between its other interfaces as a side effect.
     */
    synchronized void install(int egressProxyPort) {
        this.proxyPort = egressProxyPort;
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
        r.append("  map filters { type ifname : verdict; }\n");
        r.append("  map intercept { type ifname : verdict; }\n");
        r.append("  chain forward {\n    type filter hook forward priority filter; policy accept;\n");
        if (enabledForwarding) {
            r.append("    iifname != ").append(veths).append(" oifname != ").append(veths).append(" drop\n");
        }
        r.append("    oifname ").append(veths).append(" ct state established,related accept\n");
        r.append("    oifname ").append(veths).append(" drop\n");
        r.append("    iifname ").append(veths).append(" iifname vmap @filters\n");
        r.append("    iifname ").append(veths).append(" iifname != @egress drop\n");
        r.append("    iifname ").append(veths).append(" ip daddr @dns meta l4proto { tcp, udp } th dport 53 accept\n");
        r.append("    iifname ").append(veths).append(" ip daddr @denied drop\n");
        r.append("    iifname ").append(veths).append(" meta nfproto ipv4 accept\n");
        r.append("    iifname ").append(veths).append(" drop\n  }\n");
        r.append("  chain input {\n    type filter hook input priority filter; policy accept;\n");
        r.append("    iifname ").append(veths).append(" ct state established,related accept\n");
        // only connections the intercept chains redirected: a sandbox cannot dial the proxy port itself
        r.append("    iifname ").append(veths).append(" ct status dnat tcp dport ").append(egressProxyPort).append(" accept\n");
        r.append("    iifname ").append(veths).append(" drop\n");
        r.append("    iifname != ").append(veths).append(" tcp dport ").append(egressProxyPort).append(" drop\n  }\n");
        r.append("  chain prerouting {\n    type nat hook prerouting priority dstnat; policy accept;\n");
        r.append("    iifname ").append(veths).append(" iifname vmap @intercept\n  }\n");
        r.append("  chain postrouting {\n    type nat hook postrouting priority srcnat; policy accept;\n");
        r.append("    ip saddr ").append(config.subnet()).append(" oifname != ").append(veths).append(" masquerade\n  }\n");
        r.append("}\n");
        HostCommand.check(List.of("nft", "-f", "-"), r.toString());
    }

    /** Deletes the table; restores IPv4 forwarding to off if {@link #install(int)} turned it on. */
    synchronized void uninstall() {
        nft.close();
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

    /** Gives a sandbox's veth its policy, replacing the one it had, in one transaction. */
    synchronized void apply(String hostVeth, EgressPolicy policy) {
        Chains n = new Chains(config.nftTable(), hostVeth);
        String t = n.table();
        String veth = n.veth();
        String out = n.out();
        String nat = n.nat();
        List<String> c = new ArrayList<>();
        c.add("add chain " + t + " " + out);
        c.add("flush chain " + t + " " + out);
        c.add("add chain " + t + " " + nat);
        c.add("flush chain " + t + " " + nat);
        if (policy.isOpen()) {
            c.add("add element " + t + " egress { " + veth + " }");
            c.addAll(removeElement(t, "filters", veth, out));
            c.addAll(removeElement(t, "intercept", veth, nat));
        } else {
            c.add("add element " + t + " egress { " + veth + " }");
            c.add("delete element " + t + " egress { " + veth + " }");
            boolean deniesAll = policy.deny().contains(EgressPolicy.ALL_TRAFFIC);
            if (!deniesAll || policy.checksDomains()) {
                c.add("add rule " + t + " " + out + " ip daddr @dns meta l4proto { tcp, udp } th dport 53 accept");
            }
            c.add("add rule " + t + " " + out + " ip daddr @denied drop");
            if (!policy.allow().isEmpty()) {
                c.add("add rule " + t + " " + out + " ip daddr " + anonymousSet(policy.allow()) + " accept");
            }
            if (deniesAll) {
                c.add("add rule " + t + " " + out + " drop");
            } else {
                c.add("add rule " + t + " " + out + " ip daddr " + anonymousSet(policy.deny()) + " drop");
                c.add("add rule " + t + " " + out + " meta nfproto ipv4 accept");
                c.add("add rule " + t + " " + out + " drop");
            }
            c.add("add element " + t + " filters { " + veth + " : jump " + out + " }");
            if (policy.checksDomains()) {
                c.add("add rule " + t + " " + nat + " ip daddr @denied return");
                if (!policy.allow().isEmpty()) {
                    c.add("add rule " + t + " " + nat + " ip daddr " + anonymousSet(policy.allow()) + " return");
                }
                c.add("add rule " + t + " " + nat + " tcp dport { " + INTERCEPTED_PORTS.stream().map(String::valueOf)
                        .collect(Collectors.joining(", ")) + " } redirect to :" + proxyPort);
                c.add("add element " + t + " intercept { " + veth + " : jump " + nat + " }");
            } else {
                c.addAll(removeElement(t, "intercept", veth, nat));
            }
        }
        nft.apply(c);
    }

    /** Takes every trace of the veth out of the table; a veth that has none is fine. */
    synchronized void remove(String hostVeth) {
        Chains n = new Chains(config.nftTable(), hostVeth);
        String t = n.table();
        String veth = n.veth();
        String out = n.out();
        String nat = n.nat();
        List<String> c = new ArrayList<>();
        c.add("add element " + t + " egress { " + veth + " }");
        c.add("delete element " + t + " egress { " + veth + " }");
        c.add("add chain " + t + " " + out);
        c.add("add chain " + t + " " + nat);
        c.addAll(removeElement(t, "filters", veth, out));
        c.addAll(removeElement(t, "intercept", veth, nat));
        c.add("delete chain " + t + " " + out);
        c.add("delete chain " + t + " " + nat);
        try {
            nft.apply(c);
        } catch (HostException e) {
            if (installed()) {
                throw e;
            }
            // the table itself is gone (another instance with this prefix uninstalled it): nothing of the veth is left
        }
    }

    /** The names nft commands use for one sandbox's veth: the table, the quoted veth and its two chains. */
    private record Chains(String nftTable, String hostVeth) {
        String table() {
            return "inet " + nftTable;
        }

        String veth() {
            return "\"" + hostVeth + "\"";
        }

        String out() {
            return "out_" + hostVeth;
        }

        String nat() {
            return "nat_" + hostVeth;
        }
    }

    /** Add-then-delete, so the transaction does not fail when the element is not there. */
    private static List<String> removeElement(String table, String map, String veth, String chain) {
        return List.of("add element " + table + " " + map + " { " + veth + " : jump " + chain + " }",
                "delete element " + table + " " + map + " { " + veth + " }");
    }

    private static String anonymousSet(List<Ipv4Cidr> cidrs) {
        return "{ " + cidrs.stream().map(Ipv4Cidr::toString).collect(Collectors.joining(", ")) + " }";
    }

    /** The host veths with a restricting chain of their own. */
    List<String> restricted() {
        return mapKeys("filters");
    }

    /** The host veths currently allowed out; empty when the table does not exist. */
    List<String> egressMembers() {
        HostCommand.Result r = HostCommand.run(List.of("nft", "-j", "list", "set", "inet", config.nftTable(), "egress"));
        return elementsOf(r, "set");
    }

    private List<String> mapKeys(String map) {
        return elementsOf(HostCommand.run(List.of("nft", "-j", "list", "map", "inet", config.nftTable(), map)), "map");
    }

    private static List<String> elementsOf(HostCommand.Result r, String kind) {
        if (!r.ok()) {
            return List.of();
        }
        List<String> out = new ArrayList<>();
        try {
            for (JsonNode n : JSON.readTree(r.stdout()).path("nftables")) {
                for (JsonNode e : n.path(kind).path("elem")) {
                    // a set element is the name; a map element is [name, verdict]
                    out.add(e.isArray() ? e.get(0).asText() : e.asText());
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
