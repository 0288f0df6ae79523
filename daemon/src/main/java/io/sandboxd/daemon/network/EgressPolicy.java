package io.sandboxd.daemon.network;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;

/**
 * Where one sandbox may open connections, as E2B's {@code allow_internet_access}, {@code network.allowOut} and
 * {@code network.denyOut} say it: a destination in {@code allow} is reached even when {@code deny} covers it
 * (allow wins), one in {@code deny} is dropped, anything else goes out. Domains are allow-only and only make sense
 * when everything else is denied ({@code 0.0.0.0/0} in deny): they are enforced by the egress proxy, which reads
 * the name from the TLS SNI or the HTTP Host header of connections to ports 80 and 443.
 *
 * <p>Above any policy: the host's denied ranges (private, loopback, link-local, ...) are never reachable, and DNS
 * to the configured resolvers passes for every sandbox that may reach anything at all.
 */
public record EgressPolicy(List<Ipv4Cidr> allow, List<Ipv4Cidr> deny, List<DomainPattern> allowDomains) {
    public static final Ipv4Cidr ALL_TRAFFIC = new Ipv4Cidr(0, 0);
    /** No restriction: what a sandbox with internet access and no rules gets. */
    public static final EgressPolicy OPEN = new EgressPolicy(List.of(), List.of(), List.of());
    /** Nothing leaves: internet access off and no allow rules. */
    public static final EgressPolicy CLOSED = new EgressPolicy(List.of(), List.of(ALL_TRAFFIC), List.of());

    public EgressPolicy {
        allow = List.copyOf(new LinkedHashSet<>(allow));
        deny = List.copyOf(new LinkedHashSet<>(deny));
        allowDomains = List.copyOf(new LinkedHashSet<>(allowDomains));
        if (!allowDomains.isEmpty() && !deny.contains(ALL_TRAFFIC)) {
            throw new IllegalArgumentException("allowOut has domains (" + allowDomains.getFirst() + ") but denyOut does not "
                    + "contain 0.0.0.0/0: domain rules only narrow a sandbox whose other traffic is denied "
                    + "(add 0.0.0.0/0 to denyOut, or set allow_internet_access to false)");
        }
    }

    /**
     * The policy of E2B's fields. {@code allowInternetAccess=false} is {@code 0.0.0.0/0} in {@code denyOut}. Entries
     * are IPv4 addresses, CIDRs and (allowOut only) domains.
     *
     * @throws IllegalArgumentException naming the field and the entry that is wrong
     */
    public static EgressPolicy of(boolean allowInternetAccess, List<String> allowOut, List<String> denyOut) {
        List<Ipv4Cidr> allow = new ArrayList<>();
        List<DomainPattern> domains = new ArrayList<>();
        for (String entry : allowOut) {
            if (DomainPattern.looksLikeDomain(entry)) {
                domains.add(domainIn("allowOut", entry));
            } else {
                allow.add(cidrIn("allowOut", entry));
            }
        }
        List<Ipv4Cidr> deny = new ArrayList<>();
        for (String entry : denyOut) {
            if (DomainPattern.looksLikeDomain(entry)) {
                throw new IllegalArgumentException("denyOut entry '" + entry + "' is a domain: denyOut takes IPv4 addresses "
                        + "and CIDRs only (deny everything with 0.0.0.0/0 and list domains in allowOut)");
            }
            deny.add(cidrIn("denyOut", entry));
        }
        if (!allowInternetAccess) {
            deny.add(ALL_TRAFFIC);
        }
        if (deny.contains(ALL_TRAFFIC)) {
            deny = List.of(ALL_TRAFFIC); // the narrower denies add nothing
        }
        return new EgressPolicy(allow, deny, domains);
    }

    /** Nothing to enforce beyond the host's own rules. */
    public boolean isOpen() {
        return deny.isEmpty();
    }

    /** Whether connections to ports 80 and 443 go through the egress proxy for a name check. */
    public boolean checksDomains() {
        return !allowDomains.isEmpty();
    }

    /** Whether a host name the proxy read from a connection is one of the allowed domains. */
    public boolean allowsDomain(String host) {
        return allowDomains.stream().anyMatch(d -> d.matches(host));
    }

    private static Ipv4Cidr cidrIn(String field, String entry) {
        String e = entry.strip();
        try {
            return e.contains("/") ? Ipv4Cidr.parse(e) : new Ipv4Cidr(Ipv4Cidr.parseAddress(e), 32);
        } catch (IllegalArgumentException bad) {
            String why = e.contains(":") ? "IPv6 is not supported (sandboxes have no IPv6 route)" : bad.getMessage();
            throw new IllegalArgumentException(field + " entry '" + entry + "' is not an IPv4 address or CIDR: " + why);
        }
    }

    private static DomainPattern domainIn(String field, String entry) {
        try {
            return DomainPattern.parse(entry);
        } catch (IllegalArgumentException bad) {
            throw new IllegalArgumentException(field + " entry '" + entry + "': " + bad.getMessage());
        }
    }
}
