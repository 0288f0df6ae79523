package io.sandboxd.ffi;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.nio.ByteOrder;

/**
 * Generic netlink ({@code <linux/netlink.h>}, {@code <linux/genetlink.h>}): the message, family and attribute
 * headers and the controller's family lookup constants. The socket calls are {@link Sockets}' and {@link Libc}'s
 * ({@code socket}, {@code bind}, {@code connect}, then {@code write}/{@code read}). {@code sockaddr_in} is here until
 * {@link Sockets} needs IPv4 itself: the kernel NBD attach is its only user. Verified against the system headers by
 * {@code NetlinkHeadersTest}.
 */
public final class Netlink {
    // <sys/socket.h> (the rest of the socket family is in Sockets)
    public static final int AF_NETLINK = 16;
    public static final int SOCK_RAW = 3;

    // <linux/netlink.h>
    public static final int NETLINK_GENERIC = 16;
    public static final int NLM_F_REQUEST = 0x01;
    public static final int NLM_F_ACK = 0x04;
    public static final int NLMSG_ERROR = 0x2;
    public static final int NLMSG_DONE = 0x3;
    public static final int NLA_F_NESTED = 1 << 15;
    /** {@code NLMSG_ALIGNTO} and {@code NLA_ALIGNTO}: messages and attributes are padded to 4 bytes. */
    public static final int NLMSG_ALIGNTO = 4;
    public static final int NLA_ALIGNTO = 4;

    // <linux/genetlink.h>
    public static final int GENL_ID_CTRL = 0x10;
    public static final int CTRL_CMD_GETFAMILY = 3;
    public static final int CTRL_ATTR_FAMILY_ID = 1;
    public static final int CTRL_ATTR_FAMILY_NAME = 2;

    /** {@code struct nlmsghdr} (16 bytes, host byte order). */
    public static final StructLayout NLMSGHDR = MemoryLayout.structLayout(
            JAVA_INT.withName("nlmsg_len"),
            JAVA_SHORT.withName("nlmsg_type"),
            JAVA_SHORT.withName("nlmsg_flags"),
            JAVA_INT.withName("nlmsg_seq"),
            JAVA_INT.withName("nlmsg_pid")).withName("nlmsghdr");

    /** {@code struct genlmsghdr} (4 bytes). */
    public static final StructLayout GENLMSGHDR = MemoryLayout.structLayout(
            JAVA_BYTE.withName("cmd"),
            JAVA_BYTE.withName("version"),
            JAVA_SHORT.withName("reserved")).withName("genlmsghdr");

    /** {@code struct nlattr} (4 bytes): length includes this header, payload padded to {@link #NLA_ALIGNTO}. */
    public static final StructLayout NLATTR = MemoryLayout.structLayout(
            JAVA_SHORT.withName("nla_len"),
            JAVA_SHORT.withName("nla_type")).withName("nlattr");

    /** {@code struct nlmsgerr}: the payload of an {@link #NLMSG_ERROR} message (error 0 is an ack). */
    public static final StructLayout NLMSGERR = MemoryLayout.structLayout(
            JAVA_INT.withName("error"),
            NLMSGHDR.withName("msg")).withName("nlmsgerr");

    /** {@code struct sockaddr_nl} (12 bytes). */
    public static final StructLayout SOCKADDR_NL = MemoryLayout.structLayout(
            JAVA_SHORT.withName("nl_family"),
            JAVA_SHORT.withName("nl_pad"),
            JAVA_INT.withName("nl_pid"),
            JAVA_INT.withName("nl_groups")).withName("sockaddr_nl");

    /** {@code struct sockaddr_in} (16 bytes); port and address in network byte order. */
    public static final StructLayout SOCKADDR_IN = MemoryLayout.structLayout(
            JAVA_SHORT.withName("sin_family"),
            JAVA_SHORT.withOrder(ByteOrder.BIG_ENDIAN).withName("sin_port"),
            JAVA_INT.withOrder(ByteOrder.BIG_ENDIAN).withName("sin_addr"),
            MemoryLayout.sequenceLayout(8, JAVA_BYTE).withName("sin_zero")).withName("sockaddr_in");

    private Netlink() {
    }

    /**
     * {@code struct sockaddr_nl} of the kernel (port id 0), allocated in {@code arena}: bind a netlink socket to it
     * (the kernel assigns our port id) and connect it, then plain {@code write}/{@code read} exchange messages.
     */
    public static MemorySegment kernelAddress(Arena arena) {
        MemorySegment addr = arena.allocate(SOCKADDR_NL);
        addr.set(JAVA_SHORT, 0, (short) AF_NETLINK);
        return addr;
    }

    /** {@code struct sockaddr_in} for an IPv4 address ({@code addr} in host order, e.g. 0x7f000001) and port. */
    public static MemorySegment inetAddress(Arena arena, int addr, int port) {
        MemorySegment sa = arena.allocate(SOCKADDR_IN);
        sa.set(JAVA_SHORT, 0, (short) Sockets.AF_INET);
        sa.set(JAVA_SHORT.withOrder(ByteOrder.BIG_ENDIAN), 2, (short) port);
        sa.set(JAVA_INT.withOrder(ByteOrder.BIG_ENDIAN), 4, addr);
        return sa;
    }

    /** Rounds a length up to the netlink alignment. */
    public static int align(int length) {
        return (length + NLMSG_ALIGNTO - 1) & -NLMSG_ALIGNTO;
    }
}
