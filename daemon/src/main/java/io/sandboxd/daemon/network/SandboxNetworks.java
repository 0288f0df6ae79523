package io.sandboxd.daemon.network;

import io.sandboxd.daemon.host.CommandFailedException;
import io.sandboxd.daemon.host.HostCommand;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Per-sandbox networks on this host: a network namespace per slot, a veth pair into it with a /30, a default
 * route to the host end, the {@link EgressFirewall} deciding what leaves, and the {@link EgressProxy} that checks
 * the names restricted sandboxes connect to. Drives {@code ip} and {@code nft}
 * (iproute2 and nftables). Thread-safe: slot numbers come from a {@link SlotAllocator}, and the host tools do
 * their own locking.
 */
public final class SandboxNetworks implements AutoCloseable {
    private final NetworkConfig config;
    private final SlotAllocator slots;
    private final EgressFirewall firewall;
    private final Pattern netnsName;
    private final Pattern vethName;
    /** The policy of each restricted sandbox by its address, for the egress proxy; open sandboxes are absent. */
    private final Map<InetAddress, EgressPolicy> policies = new ConcurrentHashMap<>();
    private EgressProxy proxy;

    private SandboxNetworks(NetworkConfig config) {
        this.config = config;
        this.slots = new SlotAllocator(config.slotCount());
        this.firewall = new EgressFirewall(config);
        this.netnsName = Pattern.compile(Pattern.quote(config.namePrefix()) + "-\\d+");
        this.vethName = Pattern.compile(Pattern.quote(config.namePrefix()) + "h\\d+");
    }

    /** Installs the firewall table; call {@link #removeLeftovers()} before creating slots on a host that crashed. */
    public static SandboxNetworks start(NetworkConfig config) {
        SandboxNetworks n = new SandboxNetworks(config);
        n.proxy = EgressProxy.start(n.policies::get, config.deniedRanges());
        try {
            n.firewall.install(n.proxy.port());
        } catch (RuntimeException e) {
            n.proxy.close();
            throw e;
        }
        return n;
    }

    public NetworkConfig config() {
        return config;
    }

    /**
     * Makes a slot: namespace, veth pair, addresses, routes. Egress starts denied; turn it on with
     * {@link #setInternetAccess}. On failure everything made so far is removed again.
     */
    public NetworkSlot create() {
        NetworkSlot slot = NetworkSlot.of(config, slots.allocate());
        try {
            HostCommand.check(List.of("ip", "netns", "add", slot.netnsName()));
            // Two batches instead of eight processes: one in the host namespace, one inside the new one.
            HostCommand.check(List.of("ip", "-b", "-"),
                    "link add " + slot.hostVeth() + " type veth peer name " + NetworkSlot.SANDBOX_IFNAME
                            + " netns " + slot.netnsName() + "\n"
                            + "addr add " + slot.hostIp() + "/" + NetworkSlot.PREFIX_LENGTH + " dev " + slot.hostVeth() + "\n"
                            + "link set " + slot.hostVeth() + " up\n");
            HostCommand.check(List.of("ip", "-n", slot.netnsName(), "-b", "-"),
                    "link set lo up\n"
                            + "addr add " + slot.sandboxIp() + "/" + NetworkSlot.PREFIX_LENGTH + " dev "
                            + NetworkSlot.SANDBOX_IFNAME + "\n"
                            + "link set " + NetworkSlot.SANDBOX_IFNAME + " up\n"
                            + "route add default via " + slot.hostIp() + "\n");
            return slot;
        } catch (RuntimeException e) {
            try {
                teardown(slot);
            } catch (RuntimeException cleanup) {
                e.addSuppressed(cleanup);
            }
            slots.release(slot.index());
            throw e;
        }
    }

    /**
     * Takes over slot {@code index}, which an earlier daemon made and left (its sandbox is being adopted): checks
     * that its namespace and host veth still exist, claims the number, and gives it {@code policy}, since this
     * instance's firewall table and egress proxy were made new at start. On failure the number is free again and
     * the host is left as it was, for {@link #removeLeftovers} to clear.
     *
     * @throws IllegalStateException when the slot is incomplete, taken or its rules cannot be applied
     */
    public NetworkSlot adopt(int index, EgressPolicy policy) {
        NetworkSlot slot = NetworkSlot.of(config, index);
        if (!Files.exists(slot.netnsPath())) {
            throw new IllegalStateException("network namespace " + slot.netnsName() + " is gone");
        }
        if (!hostLinks().contains(slot.hostVeth())) {
            throw new IllegalStateException("veth " + slot.hostVeth() + " is gone");
        }
        slots.claim(index);
        try {
            applyEgress(slot, policy);
            return slot;
        } catch (RuntimeException e) {
            forget(slot);
            throw e;
        }
    }

    /**
     * Gives up an adopted slot without touching the host: its number is free again, its namespace, veth and
     * firewall entry stay for {@link #removeLeftovers} (an adoption that failed after {@link #adopt}).
     */
    public void forget(NetworkSlot slot) {
        policies.remove(slot.sandboxInetAddress());
        slots.release(slot.index());
    }

    public void setInternetAccess(NetworkSlot slot, boolean allowed) {
        applyEgress(slot, allowed ? EgressPolicy.OPEN : EgressPolicy.CLOSED);
    }

    /** Gives the slot's sandbox its egress policy, replacing the previous one at once (one nft transaction). */
    public void applyEgress(NetworkSlot slot, EgressPolicy policy) {
        InetAddress address = slot.sandboxInetAddress();
        if (policy.checksDomains()) {
            policies.put(address, policy); // before the redirect exists, so no redirected connection is refused
        }
        try {
            firewall.apply(slot.hostVeth(), policy);
        } catch (RuntimeException e) {
            throw new IllegalStateException("cannot set the egress policy of " + slot.hostVeth() + ": " + e.getMessage(), e);
        }
        if (!policy.checksDomains()) {
            policies.remove(address);
        }
    }

    /** The port the egress proxy listens on (every address; the firewall admits only redirected connections). */
    public int egressProxyPort() {
        return proxy.port();
    }

    /** Removes the slot's firewall entry, veth pair and namespace, then frees the slot number. */
    public void destroy(NetworkSlot slot) {
        teardown(slot);
        slots.release(slot.index());
    }

    private void teardown(NetworkSlot slot) {
        List<RuntimeException> failures = new ArrayList<>();
        attempt(failures, () -> firewall.remove(slot.hostVeth()));
        policies.remove(slot.sandboxInetAddress());
        attempt(failures, () -> deleteLink(slot.hostVeth()));
        attempt(failures, () -> deleteNetns(slot.netnsName()));
        throwAll("removing network slot " + slot.index(), failures);
    }

    /** Namespaces with this config's prefix that exist on the host. */
    public List<String> existingNamespaces() {
        Path dir = Path.of("/run/netns");
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).filter(n -> netnsName.matcher(n).matches()).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + dir, e);
        }
    }

    /** Host veths with this config's prefix that exist on the host. */
    public List<String> existingVeths() {
        return hostLinks().stream().filter(n -> vethName.matcher(n).matches()).sorted().toList();
    }

    /**
     * The links of this process's network namespace, asked over netlink ({@code ip -o link show}), not read from
     * /sys/class/net: sysfs shows the namespace of whoever mounted it, which is not ours when the daemon was moved
     * into a namespace without a sysfs of its own (nsenter --net, as several nodes on one host are run).
     */
    static java.util.Set<String> hostLinks() {
        HostCommand.Result r = HostCommand.run(List.of("ip", "-o", "link", "show"));
        if (!r.ok()) {
            throw new CommandFailedException(r);
        }
        java.util.Set<String> names = new java.util.HashSet<>();
        for (String line : r.stdout().split("\n")) {
            // "7: sbxh0@if2: <BROADCAST,...> mtu 1500 ..."
            int a = line.indexOf(": ");
            int b = a < 0 ? -1 : line.indexOf(": ", a + 2);
            if (b > a) {
                String name = line.substring(a + 2, b);
                int at = name.indexOf('@');
                names.add(at < 0 ? name : name.substring(0, at));
            }
        }
        return names;
    }

    /** Host veths currently allowed out by the firewall. */
    public List<String> egressAllowed() {
        return firewall.egressMembers();
    }

    /** Host veths with a restricting egress chain (allow/deny rules, domain checks). */
    public List<String> egressRestricted() {
        return firewall.restricted();
    }

    public boolean firewallInstalled() {
        return firewall.installed();
    }

    /**
     * Removes namespaces, veths and firewall entries with this config's prefix that belong to no slot this
     * instance handed out (what a crashed daemon left). Returns one line per removed item.
     */
    public synchronized List<String> removeLeftovers(java.util.Collection<NetworkSlot> live) {
        List<String> keepNs = live.stream().map(NetworkSlot::netnsName).toList();
        List<String> keepVeth = live.stream().map(NetworkSlot::hostVeth).toList();
        List<String> removed = new ArrayList<>();
        List<RuntimeException> failures = new ArrayList<>();
        Set<String> inFirewall = new TreeSet<>(firewall.egressMembers());
        inFirewall.addAll(firewall.restricted());
        for (String v : inFirewall) {
            if (!keepVeth.contains(v)) {
                attempt(failures, () -> firewall.remove(v));
                removed.add("nft egress entry " + v);
            }
        }
        for (String v : existingVeths()) {
            if (!keepVeth.contains(v)) {
                attempt(failures, () -> deleteLink(v));
                removed.add("veth " + v);
            }
        }
        for (String ns : existingNamespaces()) {
            if (!keepNs.contains(ns)) {
                attempt(failures, () -> deleteNetns(ns));
                removed.add("netns " + ns);
            }
        }
        throwAll("removing leftover sandbox networks", failures);
        return removed;
    }

    public List<String> removeLeftovers() {
        return removeLeftovers(List.of());
    }

    public int slotsInUse() {
        return slots.inUse();
    }

    /** Deletes the firewall table. Slots still in use keep their namespaces; destroy them first. */
    @Override
    public void close() {
        try {
            firewall.uninstall();
        } finally {
            proxy.close();
            policies.clear();
        }
    }

    /**
     * For a shutdown that leaves sandboxes running: the egress proxy stops, the firewall table and the slots stay
     * (the next start rebuilds the table when it adopts them, as after a crash).
     */
    public void closeKeepingFirewall() {
        try {
            proxy.close();
        } finally {
            policies.clear();
        }
    }

    private static void deleteLink(String name) {
        HostCommand.Result r = HostCommand.run(List.of("ip", "link", "del", name));
        if (!r.ok() && hostLinks().contains(name)) {
            throw new CommandFailedException(r);
        }
    }

    private static void deleteNetns(String name) {
        HostCommand.Result r = HostCommand.run(List.of("ip", "netns", "del", name));
        if (!r.ok() && Files.exists(Path.of("/run/netns", name))) {
            throw new CommandFailedException(r);
        }
    }

    private static void attempt(List<RuntimeException> failures, Runnable step) {
        try {
            step.run();
        } catch (RuntimeException e) {
            failures.add(e);
        }
    }

    private static void throwAll(String what, List<RuntimeException> failures) {
        if (failures.isEmpty()) {
            return;
        }
        IllegalStateException e = new IllegalStateException(what + " failed: " + failures.getFirst().getMessage());
        failures.forEach(e::addSuppressed);
        throw e;
    }
}
