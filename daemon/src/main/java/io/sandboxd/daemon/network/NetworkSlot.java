package io.sandboxd.daemon.network;

import java.net.InetAddress;
import java.nio.file.Path;

/**
 * One sandbox's place on the host network: a /30 with the host end of a veth pair on {@code .1} and the
 * sandbox end ({@code eth0} inside the namespace) on {@code .2}.
 *
 * @param index        slot number within the subnet
 * @param netnsName    the network namespace ({@code ip netns} name)
 * @param hostVeth     the host end of the veth pair
 * @param hostAddress  the host end's address, the sandbox's default gateway
 * @param sandboxAddress the sandbox's address: where the host reaches envd
 */
public record NetworkSlot(int index, String netnsName, String hostVeth, int hostAddress, int sandboxAddress) {
    public static final int PREFIX_LENGTH = 30;
    /** Interface name of the sandbox end inside its namespace. */
    public static final String SANDBOX_IFNAME = "eth0";

    static NetworkSlot of(NetworkConfig config, int index) {
        if (index < 0 || index >= config.slotCount()) {
            throw new IllegalArgumentException("slot " + index + " is outside 0.." + (config.slotCount() - 1));
        }
        int base = config.subnet().network() + index * 4;
        return new NetworkSlot(index, config.namePrefix() + "-" + index, config.namePrefix() + "h" + index, base + 1, base + 2);
    }

    /** The namespace file runc joins ({@code ip netns add} creates it under /run/netns). */
    public Path netnsPath() {
        return Path.of("/run/netns", netnsName);
    }

    public InetAddress sandboxInetAddress() {
        return Ipv4Cidr.inet(sandboxAddress);
    }

    public String sandboxIp() {
        return Ipv4Cidr.format(sandboxAddress);
    }

    public String hostIp() {
        return Ipv4Cidr.format(hostAddress);
    }
}
