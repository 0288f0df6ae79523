package io.sandboxd.daemon.network;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * How sandbox networks are laid out on this host, validated once.
 *
 * @param subnet        the range slots are cut from, one /30 per slot (default {@code 10.11.0.0/16}: 16384 slots)
 * @param namePrefix    prefix of every name this host gets (netns {@code <prefix>-<slot>}, host veth
 *                      {@code <prefix>h<slot>}, nft table {@code <prefix>}): 2-6 lower-case letters, so two
 *                      daemons (or a daemon and its tests) with different prefixes never touch each other's
 *                      things
 * @param dnsServers    resolvers written into sandboxes' {@code /etc/resolv.conf} and let through on port 53 even
 *                      when they are in a private range (default: the host's non-loopback resolvers)
 * @param deniedRanges  destinations sandboxes may never reach, internet access or not (default: the private,
 *                      loopback, link-local, CGNAT and multicast ranges)
 */
public record NetworkConfig(Ipv4Cidr subnet, String namePrefix, List<String> dnsServers, List<Ipv4Cidr> deniedRanges) {
    public static final String SUBNET_DEFAULT = "10.11.0.0/16";
    public static final String NAME_PREFIX_DEFAULT = "sbx";
    public static final List<String> DENIED_RANGES_DEFAULT = List.of(
            "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
            "192.168.0.0/16", "224.0.0.0/4", "240.0.0.0/4");
    private static final Pattern PREFIX = Pattern.compile("[a-z]{2,6}");

    public NetworkConfig {
        Objects.requireNonNull(subnet, "subnet");
        if (subnet.prefixLength() > 28) {
            throw new IllegalArgumentException("subnet " + subnet + " is too small: it needs room for at least 4 /30 slots");
        }
        if (!PREFIX.matcher(namePrefix).matches()) {
            throw new IllegalArgumentException("name prefix '" + namePrefix
                    + "' must be 2-6 lower-case letters (interface names are limited to 15 characters)");
        }
        dnsServers = List.copyOf(dnsServers);
        for (String s : dnsServers) {
            Ipv4Cidr.parseAddress(s);
        }
        deniedRanges = List.copyOf(deniedRanges);
    }

    public static NetworkConfig defaults() {
        return new NetworkConfig(Ipv4Cidr.parse(SUBNET_DEFAULT), NAME_PREFIX_DEFAULT, hostResolvers(Path.of("/etc/resolv.conf")),
                DENIED_RANGES_DEFAULT.stream().map(Ipv4Cidr::parse).toList());
    }

    public NetworkConfig withSubnet(String cidr) {
        return new NetworkConfig(Ipv4Cidr.parse(cidr), namePrefix, dnsServers, deniedRanges);
    }

    public NetworkConfig withNamePrefix(String prefix) {
        return new NetworkConfig(subnet, prefix, dnsServers, deniedRanges);
    }

    public NetworkConfig withDnsServers(List<String> servers) {
        return new NetworkConfig(subnet, namePrefix, servers, deniedRanges);
    }

    public NetworkConfig withDeniedRanges(List<String> ranges) {
        return new NetworkConfig(subnet, namePrefix, dnsServers, ranges.stream().map(Ipv4Cidr::parse).toList());
    }

    /** Slots the subnet holds. */
    public int slotCount() {
        return (int) Math.min(Integer.MAX_VALUE, subnet.size() / 4);
    }

    /** The nftables table (family inet) holding this host's sandbox rules. */
    public String nftTable() {
        return namePrefix;
    }

    /** The IPv4 nameservers of a resolv.conf, loopback ones left out (a sandbox cannot reach the host's 127.x). */
    static List<String> hostResolvers(Path resolvConf) {
        List<String> out = new ArrayList<>();
        try {
            for (String line : Files.readAllLines(resolvConf)) {
                String[] f = line.trim().split("\\s+");
                if (f.length >= 2 && f[0].equals("nameserver")) {
                    try {
                        int a = Ipv4Cidr.parseAddress(f[1]);
                        if ((a >>> 24) != 127) {
                            out.add(f[1]);
                        }
                    } catch (IllegalArgumentException ignored) {
                        // IPv6 resolvers: sandboxes have no IPv6 route
                    }
                }
            }
        } catch (IOException e) {
            return List.of();
        }
        return out;
    }
}
