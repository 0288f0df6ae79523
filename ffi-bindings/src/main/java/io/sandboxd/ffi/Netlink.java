package io.sandboxd.ffi;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;
import java.nio.ByteOrder;

/**
 * Generic netlink ({@code <linux/netlink.h>}, {@code <linux/genetlink.h>}): the message, family and attribute
 * headers, the controller's family lookup, and the socket calls a netlink client makes. Verified against the
 * system headers by {@code NetlinkHeadersTest}.
 *
 * <p>The socket calls ({@code socket}, {@code bind}, {@code connect}, {@code sendto}, {@code recv}) are the plain
 * BSD ones; they live here because netlink and the kernel NBD attach (a TCP socket handed to the driver) are their
 * only users so far. {@code sockaddr_in} is here for the same reason.
 */
public final class Netlink {
    // <sys/socket.h>
    public static final int AF_INET = 2;
    public static final int AF_NETLINK = 16;
    public static final int SOCK_STREAM = 1;
    public static final int SOCK_RAW = 3;
    public static final int SOCK_CLOEXEC = 02000000;

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

    private static final MethodHandle SOCKET = Native.downcallErrno("socket",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
    private static final MethodHandle BIND = Native.downcallErrno("bind",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle CONNECT = Native.downcallErrno("connect",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle SENDTO = Native.downcallErrno("sendto",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle RECV = Native.downcallErrno("recv",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));

    private Netlink() {
    }

    /** {@code socket(domain, type, protocol)}: the caller owns the fd and closes it with {@link Libc#close}. */
    public static int socket(int domain, int type, int protocol) {
        try {
            MemorySegment err = Native.errnoBuffer();
            int fd = (int) SOCKET.invokeExact(err, domain, type, protocol);
            if (fd < 0) {
                throw new NativeException("socket", Native.errno(err), "domain " + domain + ", type " + type);
            }
            return fd;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** Binds a netlink socket to a kernel-assigned port id. */
    public static void bindNetlink(int fd) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment addr = a.allocate(SOCKADDR_NL);
            addr.set(JAVA_SHORT, 0, (short) AF_NETLINK);
            MemorySegment err = Native.errnoBuffer();
            if ((int) BIND.invokeExact(err, fd, addr, (int) SOCKADDR_NL.byteSize()) < 0) {
                throw new NativeException("bind", Native.errno(err), "netlink");
            }
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** Connects a TCP socket to an IPv4 address ({@code addr} in host order, e.g. 0x7f000001) and port. */
    public static void connectInet(int fd, int addr, int port) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment sa = a.allocate(SOCKADDR_IN);
            sa.set(JAVA_SHORT, 0, (short) AF_INET);
            sa.set(JAVA_SHORT.withOrder(ByteOrder.BIG_ENDIAN), 2, (short) port);
            sa.set(JAVA_INT.withOrder(ByteOrder.BIG_ENDIAN), 4, addr);
            MemorySegment err = Native.errnoBuffer();
            if ((int) CONNECT.invokeExact(err, fd, sa, (int) SOCKADDR_IN.byteSize()) < 0) {
                throw new NativeException("connect", Native.errno(err), "port " + port);
            }
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** Sends one netlink message to the kernel (port id 0). */
    public static long sendToKernel(int fd, MemorySegment message) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment addr = a.allocate(SOCKADDR_NL);
            addr.set(JAVA_SHORT, 0, (short) AF_NETLINK);
            MemorySegment err = Native.errnoBuffer();
            long n = (long) SENDTO.invokeExact(err, fd, message, message.byteSize(), 0, addr,
                    (int) SOCKADDR_NL.byteSize());
            if (n < 0) {
                throw new NativeException("sendto", Native.errno(err), "netlink");
            }
            return n;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** {@code recv(fd, buf, size, 0)}: returns the byte count. */
    public static long recv(int fd, MemorySegment buf) {
        try {
            MemorySegment err = Native.errnoBuffer();
            long n = (long) RECV.invokeExact(err, fd, buf, buf.byteSize(), 0);
            if (n < 0) {
                throw new NativeException("recv", Native.errno(err));
            }
            return n;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** Rounds a length up to the netlink alignment. */
    public static int align(int length) {
        return (length + NLMSG_ALIGNTO - 1) & -NLMSG_ALIGNTO;
    }
}
