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
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetSocketAddress;

/**
 * TCP over IPv4/IPv6 ({@code <netinet/in.h>}, {@code <netinet/tcp.h>}, {@code <sys/socket.h>}): socket addresses,
 * socket options, {@code send}/{@code recv} with flags ({@code MSG_MORE} holds a reply header back so it leaves
 * in one segment with the data sent after it), {@code getsockname} and {@code shutdown}. Socket creation, bind,
 * listen and accept are in {@link Sockets}. {@code SO_ORIGINAL_DST} gives a transparent proxy the destination a
 * redirected connection had. Checked against the headers by {@code TcpHeadersTest}.
 */
public final class Tcp {
    public static final int IPPROTO_TCP = 6;
    public static final int TCP_NODELAY = 1;
    public static final int SO_REUSEADDR = 2;
    public static final int SO_SNDBUF = 7;
    public static final int SO_RCVBUF = 8;
    public static final int MSG_MORE = 0x8000;
    public static final int SHUT_RD = 0;
    public static final int SHUT_WR = 1;
    public static final int SHUT_RDWR = 2;
    public static final int SOL_IP = 0;
    /** {@code <linux/netfilter_ipv4.h>}: where a connection was headed before a NAT redirect sent it to us. */
    public static final int SO_ORIGINAL_DST = 80;

    /** {@code struct sockaddr_in { sa_family_t sin_family; in_port_t sin_port; struct in_addr sin_addr; ... }}. */
    public static final StructLayout SOCKADDR_IN = MemoryLayout.structLayout(
            JAVA_SHORT.withName("sin_family"),
            JAVA_SHORT.withName("sin_port"),
            MemoryLayout.structLayout(JAVA_INT.withName("s_addr")).withName("sin_addr"),
            MemoryLayout.sequenceLayout(8, JAVA_BYTE).withName("sin_zero")).withName("sockaddr_in");
    private static final long SIN_PORT = SOCKADDR_IN.byteOffset(MemoryLayout.PathElement.groupElement("sin_port"));
    private static final long SIN_ADDR = SOCKADDR_IN.byteOffset(MemoryLayout.PathElement.groupElement("sin_addr"));

    /** {@code struct sockaddr_in6}: family, port, flow info, 16-byte address, scope id. */
    public static final StructLayout SOCKADDR_IN6 = MemoryLayout.structLayout(
            JAVA_SHORT.withName("sin6_family"),
            JAVA_SHORT.withName("sin6_port"),
            JAVA_INT.withName("sin6_flowinfo"),
            MemoryLayout.sequenceLayout(16, JAVA_BYTE).withName("sin6_addr"),
            JAVA_INT.withName("sin6_scope_id")).withName("sockaddr_in6");
    private static final long SIN6_PORT = SOCKADDR_IN6.byteOffset(MemoryLayout.PathElement.groupElement("sin6_port"));
    private static final long SIN6_ADDR = SOCKADDR_IN6.byteOffset(MemoryLayout.PathElement.groupElement("sin6_addr"));
    private static final long SIN6_SCOPE =
            SOCKADDR_IN6.byteOffset(MemoryLayout.PathElement.groupElement("sin6_scope_id"));

    private static final MethodHandle SETSOCKOPT = Native.downcallErrno("setsockopt",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle GETSOCKOPT = Native.downcallErrno("getsockopt",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS));
    private static final MethodHandle GETSOCKNAME = Native.downcallErrno("getsockname",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS));
    private static final MethodHandle SEND = Native.downcallErrno("send",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));
    private static final MethodHandle RECV = Native.downcallErrno("recv",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));
    private static final MethodHandle SHUTDOWN = Native.downcallErrno("shutdown",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));

    private Tcp() {
    }

    /** The {@code sockaddr_in} or {@code sockaddr_in6} for {@code address} (resolved), allocated in {@code arena}. */
    public static MemorySegment address(Arena arena, InetSocketAddress address) {
        if (address.isUnresolved()) {
            throw new IllegalArgumentException("unresolved address " + address);
        }
        short port = Short.reverseBytes((short) address.getPort()); // network byte order
        if (address.getAddress() instanceof Inet4Address v4) {
            MemorySegment a = arena.allocate(SOCKADDR_IN);
            a.set(JAVA_SHORT, 0, (short) Sockets.AF_INET);
            a.set(JAVA_SHORT, SIN_PORT, port);
            MemorySegment.copy(v4.getAddress(), 0, a, JAVA_BYTE, SIN_ADDR, 4);
            return a;
        }
        Inet6Address v6 = (Inet6Address) address.getAddress();
        MemorySegment a = arena.allocate(SOCKADDR_IN6);
        a.set(JAVA_SHORT, 0, (short) Sockets.AF_INET6);
        a.set(JAVA_SHORT, SIN6_PORT, port);
        MemorySegment.copy(v6.getAddress(), 0, a, JAVA_BYTE, SIN6_ADDR, 16);
        a.set(JAVA_INT, SIN6_SCOPE, v6.getScopeId());
        return a;
    }

    /** The local port a socket is bound to ({@code getsockname}; IPv4 and IPv6 keep the port at the same offset). */
    public static int localPort(int fd) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment addr = a.allocate(SOCKADDR_IN6);
            MemorySegment len = a.allocate(JAVA_INT);
            len.set(JAVA_INT, 0, (int) SOCKADDR_IN6.byteSize());
            MemorySegment err = Native.errnoBuffer();
            if ((int) GETSOCKNAME.invokeExact(err, fd, addr, len) < 0) {
                throw new NativeException("getsockname", Native.errno(err));
            }
            return Short.toUnsignedInt(Short.reverseBytes(addr.get(JAVA_SHORT, SIN_PORT)));
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /**
     * The IPv4 destination a connection had before netfilter redirected it to this socket
     * ({@code getsockopt(SOL_IP, SO_ORIGINAL_DST)}); fails with ENOENT for a connection that was not NATed.
     */
    public static InetSocketAddress originalDestination(int fd) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment addr = a.allocate(SOCKADDR_IN);
            MemorySegment len = a.allocate(JAVA_INT);
            len.set(JAVA_INT, 0, (int) SOCKADDR_IN.byteSize());
            MemorySegment err = Native.errnoBuffer();
            if ((int) GETSOCKOPT.invokeExact(err, fd, SOL_IP, SO_ORIGINAL_DST, addr, len) < 0) {
                throw new NativeException("getsockopt", Native.errno(err), "SO_ORIGINAL_DST");
            }
            byte[] ip = new byte[4];
            MemorySegment.copy(addr, JAVA_BYTE, SIN_ADDR, ip, 0, 4);
            int port = Short.toUnsignedInt(Short.reverseBytes(addr.get(JAVA_SHORT, SIN_PORT)));
            return new InetSocketAddress(java.net.InetAddress.getByAddress(ip), port);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** {@code setsockopt} of an {@code int} option. */
    public static void setIntOption(int fd, int level, int name, int value) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(JAVA_INT);
            v.set(JAVA_INT, 0, value);
            MemorySegment err = Native.errnoBuffer();
            if ((int) SETSOCKOPT.invokeExact(err, fd, level, name, v, (int) JAVA_INT.byteSize()) < 0) {
                throw new NativeException("setsockopt", Native.errno(err), "level " + level + " option " + name);
            }
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** {@code getsockopt} of an {@code int} option. */
    public static int intOption(int fd, int level, int name) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(JAVA_INT);
            MemorySegment len = a.allocate(JAVA_INT);
            len.set(JAVA_INT, 0, (int) JAVA_INT.byteSize());
            MemorySegment err = Native.errnoBuffer();
            if ((int) GETSOCKOPT.invokeExact(err, fd, level, name, v, len) < 0) {
                throw new NativeException("getsockopt", Native.errno(err), "level " + level + " option " + name);
            }
            return v.get(JAVA_INT, 0);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** {@code send}, returning the bytes sent or {@code -errno}. */
    public static long sendRaw(int fd, MemorySegment buf, long count, int flags) {
        try {
            MemorySegment err = Native.errnoBuffer();
            long n = (long) SEND.invokeExact(err, fd, buf, count, flags);
            return n < 0 ? -Native.errno(err) : n;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** {@code recv}, returning the bytes received (0 at end of stream) or {@code -errno}. */
    public static long recvRaw(int fd, MemorySegment buf, long count, int flags) {
        try {
            MemorySegment err = Native.errnoBuffer();
            long n = (long) RECV.invokeExact(err, fd, buf, count, flags);
            return n < 0 ? -Native.errno(err) : n;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** {@code shutdown}: wakes threads blocked in this socket's calls (close alone does not). */
    public static void shutdown(int fd, int how) {
        try {
            MemorySegment err = Native.errnoBuffer();
            if ((int) SHUTDOWN.invokeExact(err, fd, how) < 0) {
                throw new NativeException("shutdown", Native.errno(err));
            }
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }
}
