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
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Sockets ({@code <sys/socket.h>}, {@code <sys/un.h>}): socket/socketpair, Unix-socket bind/listen/accept4/connect
 * and sendmsg/recvmsg with {@code SCM_RIGHTS}, which is how fds (a uffd, a memfd, a pty master) move between
 * processes. Checked against the headers by {@code SocketsHeadersTest}, including the {@code CMSG_*} arithmetic,
 * which glibc defines as macros and is redone here in Java.
 */
public final class Sockets {
    public static final int AF_UNIX = 1;
    public static final int AF_INET = 2;
    public static final int AF_INET6 = 10;

    public static final int SOCK_STREAM = 1;
    public static final int SOCK_DGRAM = 2;
    public static final int SOCK_SEQPACKET = 5;
    public static final int SOCK_NONBLOCK = Libc.O_NONBLOCK;
    public static final int SOCK_CLOEXEC = Libc.O_CLOEXEC;

    public static final int SOL_SOCKET = 1;
    public static final int SCM_RIGHTS = 1;

    public static final int MSG_CTRUNC = 0x08;
    public static final int MSG_TRUNC = 0x20;
    public static final int MSG_DONTWAIT = 0x40;
    public static final int MSG_NOSIGNAL = 0x4000;
    public static final int MSG_CMSG_CLOEXEC = 0x40000000;

    /**
     * The kernel's per-message fd limit ({@code SCM_MAX_FD} in include/net/scm.h, not exported to user space, so
     * not probed): more fails with EINVAL, we refuse earlier with a clear message.
     */
    private static final int MAX_FDS_PER_MESSAGE = 253;

    /** {@code struct sockaddr_un { sa_family_t sun_family; char sun_path[108]; }}. */
    public static final StructLayout SOCKADDR_UN = MemoryLayout.structLayout(
            JAVA_SHORT.withName("sun_family"),
            MemoryLayout.sequenceLayout(108, JAVA_BYTE).withName("sun_path")).withName("sockaddr_un");
    private static final long SUN_PATH = SOCKADDR_UN.byteOffset(MemoryLayout.PathElement.groupElement("sun_path"));
    private static final long SUN_PATH_SIZE = 108;

    /** {@code struct msghdr}: name, iovec array, control (ancillary) buffer, flags. */
    public static final StructLayout MSGHDR = MemoryLayout.structLayout(
            ADDRESS.withName("msg_name"),
            JAVA_INT.withName("msg_namelen"),
            MemoryLayout.paddingLayout(4),
            ADDRESS.withName("msg_iov"),
            JAVA_LONG.withName("msg_iovlen"),
            ADDRESS.withName("msg_control"),
            JAVA_LONG.withName("msg_controllen"),
            JAVA_INT.withName("msg_flags"),
            MemoryLayout.paddingLayout(4)).withName("msghdr");
    private static final long MSG_IOV = MSGHDR.byteOffset(MemoryLayout.PathElement.groupElement("msg_iov"));
    private static final long MSG_IOVLEN = MSGHDR.byteOffset(MemoryLayout.PathElement.groupElement("msg_iovlen"));
    private static final long MSG_CONTROL = MSGHDR.byteOffset(MemoryLayout.PathElement.groupElement("msg_control"));
    private static final long MSG_CONTROLLEN =
            MSGHDR.byteOffset(MemoryLayout.PathElement.groupElement("msg_controllen"));
    private static final long MSG_FLAGS = MSGHDR.byteOffset(MemoryLayout.PathElement.groupElement("msg_flags"));

    /** {@code struct cmsghdr { size_t cmsg_len; int cmsg_level; int cmsg_type; unsigned char data[]; }}. */
    public static final StructLayout CMSGHDR = MemoryLayout.structLayout(
            JAVA_LONG.withName("cmsg_len"),
            JAVA_INT.withName("cmsg_level"),
            JAVA_INT.withName("cmsg_type")).withName("cmsghdr");
    private static final long CMSG_LEN_FIELD = CMSGHDR.byteOffset(MemoryLayout.PathElement.groupElement("cmsg_len"));
    private static final long CMSG_LEVEL = CMSGHDR.byteOffset(MemoryLayout.PathElement.groupElement("cmsg_level"));
    private static final long CMSG_TYPE = CMSGHDR.byteOffset(MemoryLayout.PathElement.groupElement("cmsg_type"));

    /** Offset of {@code CMSG_DATA(cmsg)} from the header: the header size rounded up to {@code size_t}. */
    public static final long CMSG_DATA_OFFSET = cmsgAlign(CMSGHDR.byteSize());

    private static final MethodHandle SOCKET = Native.downcallErrno("socket",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
    private static final MethodHandle SOCKETPAIR = Native.downcallErrno("socketpair",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));
    private static final MethodHandle BIND = Native.downcallErrno("bind",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle CONNECT = Native.downcallErrno("connect",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle LISTEN = Native.downcallErrno("listen",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
    private static final MethodHandle ACCEPT4 = Native.downcallErrno("accept4",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, JAVA_INT));
    private static final MethodHandle SENDMSG = Native.downcallErrno("sendmsg",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle RECVMSG = Native.downcallErrno("recvmsg",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT));

    private Sockets() {
    }

    // ---- CMSG_* arithmetic (macros in <bits/socket.h>) -----------------------------------------------------------

    /** {@code CMSG_ALIGN}: rounds up to a multiple of {@code sizeof(size_t)}. */
    public static long cmsgAlign(long length) {
        return (length + JAVA_LONG.byteSize() - 1) & ~(JAVA_LONG.byteSize() - 1);
    }

    /** {@code CMSG_LEN}: the {@code cmsg_len} of a message carrying {@code dataLength} bytes. */
    public static long cmsgLen(long dataLength) {
        return CMSG_DATA_OFFSET + dataLength;
    }

    /** {@code CMSG_SPACE}: the control-buffer room one such message takes, padding included. */
    public static long cmsgSpace(long dataLength) {
        return CMSG_DATA_OFFSET + cmsgAlign(dataLength);
    }

    // ---- sockets -------------------------------------------------------------------------------------------------

    /** A new socket, owned by the caller. */
    public static int socket(int domain, int type, int protocol) {
        try {
            MemorySegment err = Native.errnoBuffer();
            int fd = (int) SOCKET.invokeExact(err, domain, type, protocol);
            if (fd < 0) {
                throw new NativeException("socket", Native.errno(err));
            }
            return fd;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** Two connected sockets, both owned by the caller. */
    public static int[] socketpair(int domain, int type, int protocol) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment err = Native.errnoBuffer();
            MemorySegment sv = a.allocate(JAVA_INT, 2);
            if ((int) SOCKETPAIR.invokeExact(err, domain, type, protocol, sv) < 0) {
                throw new NativeException("socketpair", Native.errno(err));
            }
            return sv.toArray(JAVA_INT);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** A {@code struct sockaddr_un} for a filesystem path (no abstract names), allocated in {@code arena}. */
    public static MemorySegment unixAddress(Arena arena, String path) {
        byte[] bytes = path.getBytes(StandardCharsets.UTF_8);
        if (bytes.length == 0 || bytes.length >= SUN_PATH_SIZE) {
            throw new IllegalArgumentException("a Unix socket path must be 1.." + (SUN_PATH_SIZE - 1)
                    + " bytes, got " + bytes.length + ": " + path);
        }
        if (path.indexOf('\0') >= 0) {
            throw new IllegalArgumentException("a Unix socket path cannot contain NUL: " + path);
        }
        MemorySegment addr = arena.allocate(SOCKADDR_UN);
        addr.set(JAVA_SHORT, 0, (short) AF_UNIX);
        MemorySegment.copy(bytes, 0, addr, JAVA_BYTE, SUN_PATH, bytes.length);
        return addr;
    }

    /** {@code bind(fd, addr, addr.byteSize())}. */
    public static void bind(int fd, MemorySegment address) {
        try {
            MemorySegment err = Native.errnoBuffer();
            if ((int) BIND.invokeExact(err, fd, address, (int) address.byteSize()) < 0) {
                throw new NativeException("bind", Native.errno(err), describe(address));
            }
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** {@code connect(fd, addr, addr.byteSize())}; a blocking socket waits for the connection. */
    public static void connect(int fd, MemorySegment address) {
        try {
            MemorySegment err = Native.errnoBuffer();
            if ((int) CONNECT.invokeExact(err, fd, address, (int) address.byteSize()) < 0) {
                throw new NativeException("connect", Native.errno(err), describe(address));
            }
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    public static void listen(int fd, int backlog) {
        try {
            MemorySegment err = Native.errnoBuffer();
            if ((int) LISTEN.invokeExact(err, fd, backlog) < 0) {
                throw new NativeException("listen", Native.errno(err));
            }
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** {@code accept4(fd, NULL, NULL, flags)}: the connected socket, owned by the caller. */
    public static int accept4(int fd, int flags) {
        try {
            MemorySegment err = Native.errnoBuffer();
            int c = (int) ACCEPT4.invokeExact(err, fd, MemorySegment.NULL, MemorySegment.NULL, flags);
            if (c < 0) {
                throw new NativeException("accept4", Native.errno(err));
            }
            return c;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    // ---- messages ------------------------------------------------------------------------------------------------

    public static long sendmsg(int fd, MemorySegment msghdr, int flags) {
        long n = sendmsgRaw(fd, msghdr, flags);
        if (n < 0) {
            throw new NativeException("sendmsg", (int) -n);
        }
        return n;
    }

    /** {@code sendmsg} over a {@link #MSGHDR}, returning the bytes sent or {@code -errno}. */
    public static long sendmsgRaw(int fd, MemorySegment msghdr, int flags) {
        try {
            MemorySegment err = Native.errnoBuffer();
            long n = (long) SENDMSG.invokeExact(err, fd, msghdr, flags);
            return n < 0 ? -Native.errno(err) : n;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    public static long recvmsg(int fd, MemorySegment msghdr, int flags) {
        long n = recvmsgRaw(fd, msghdr, flags);
        if (n < 0) {
            throw new NativeException("recvmsg", (int) -n);
        }
        return n;
    }

    /** {@code recvmsg} into a {@link #MSGHDR}, returning the bytes received (0 at EOF) or {@code -errno}. */
    public static long recvmsgRaw(int fd, MemorySegment msghdr, int flags) {
        try {
            MemorySegment err = Native.errnoBuffer();
            long n = (long) RECVMSG.invokeExact(err, fd, msghdr, flags);
            return n < 0 ? -Native.errno(err) : n;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /**
     * Sends {@code data} (at least one byte: a stream socket needs a payload to carry ancillary data) with
     * {@code fds} attached as one {@code SCM_RIGHTS} message. The caller keeps its fds; the receiver gets
     * duplicates. Returns the bytes sent, which for a stream socket may be fewer than {@code data} holds (the fds
     * went with the first byte).
     */
    public static long sendFds(int socket, MemorySegment data, int... fds) {
        if (data.byteSize() == 0) {
            throw new IllegalArgumentException("sendFds needs at least one data byte to carry the fds");
        }
        if (fds.length == 0 || fds.length > MAX_FDS_PER_MESSAGE) {
            throw new IllegalArgumentException("sendFds sends 1.." + MAX_FDS_PER_MESSAGE + " fds, got " + fds.length);
        }
        try (Arena a = Arena.ofConfined()) {
            long payload = JAVA_INT.byteSize() * fds.length;
            MemorySegment control = a.allocate(cmsgSpace(payload), JAVA_LONG.byteAlignment());
            control.set(JAVA_LONG, CMSG_LEN_FIELD, cmsgLen(payload));
            control.set(JAVA_INT, CMSG_LEVEL, SOL_SOCKET);
            control.set(JAVA_INT, CMSG_TYPE, SCM_RIGHTS);
            MemorySegment.copy(fds, 0, control, JAVA_INT, CMSG_DATA_OFFSET, fds.length);
            MemorySegment msg = message(a, data, control);
            return sendmsg(socket, msg, MSG_NOSIGNAL);
        }
    }

    /**
     * What {@link #receiveFds} got: the data byte count (0 at end of stream), the fds (now owned by the caller,
     * close-on-exec), and whether the kernel dropped fds or data because {@code maxFds} or the buffer was too small.
     */
    public record Received(long bytes, int[] fds, boolean truncated) {
    }

    /**
     * Receives up to {@code into.byteSize()} bytes and up to {@code maxFds} fds passed with {@code SCM_RIGHTS}.
     * The fds arrive with {@code O_CLOEXEC} ({@code MSG_CMSG_CLOEXEC}) so no child inherits them by accident.
     */
    public static Received receiveFds(int socket, MemorySegment into, int maxFds) {
        if (maxFds < 1 || maxFds > MAX_FDS_PER_MESSAGE) {
            throw new IllegalArgumentException("receiveFds takes 1.." + MAX_FDS_PER_MESSAGE + " fds, got " + maxFds);
        }
        try (Arena a = Arena.ofConfined()) {
            long payload = JAVA_INT.byteSize() * maxFds;
            MemorySegment control = a.allocate(cmsgSpace(payload), JAVA_LONG.byteAlignment());
            // Advertise CMSG_LEN, not CMSG_SPACE: the kernel fits (controllen - header) / 4 fds, so the padding of
            // CMSG_SPACE would let one fd more than maxFds in when maxFds is odd.
            MemorySegment msg = message(a, into, control.asSlice(0, cmsgLen(payload)));
            long n = recvmsg(socket, msg, MSG_CMSG_CLOEXEC);
            int flags = msg.get(JAVA_INT, MSG_FLAGS);
            int[] fds = rightsIn(control, msg.get(JAVA_LONG, MSG_CONTROLLEN));
            return new Received(n, fds, (flags & (MSG_CTRUNC | MSG_TRUNC)) != 0);
        }
    }

    /** Every fd in the SCM_RIGHTS messages of a received control buffer ({@code CMSG_FIRSTHDR}/{@code NXTHDR}). */
    private static int[] rightsIn(MemorySegment control, long controlLength) {
        int[] fds = new int[0];
        long at = 0;
        while (at + CMSGHDR.byteSize() <= controlLength) {
            long length = control.get(JAVA_LONG, at + CMSG_LEN_FIELD);
            if (length < CMSG_DATA_OFFSET || at + length > controlLength) {
                break; // malformed or truncated header: what glibc's CMSG_NXTHDR also stops at
            }
            if (control.get(JAVA_INT, at + CMSG_LEVEL) == SOL_SOCKET && control.get(JAVA_INT, at + CMSG_TYPE) == SCM_RIGHTS) {
                int count = (int) ((length - CMSG_DATA_OFFSET) / JAVA_INT.byteSize());
                int[] more = control.asSlice(at + CMSG_DATA_OFFSET, count * JAVA_INT.byteSize()).toArray(JAVA_INT);
                int old = fds.length;
                fds = Arrays.copyOf(fds, old + count);
                System.arraycopy(more, 0, fds, old, count);
            }
            at += cmsgAlign(length);
        }
        return fds;
    }

    /** A msghdr with one iovec over {@code data} and the given control buffer, no address. */
    private static MemorySegment message(Arena a, MemorySegment data, MemorySegment control) {
        MemorySegment iov = a.allocate(Libc.IOVEC);
        iov.set(ADDRESS, Libc.IOVEC.byteOffset(MemoryLayout.PathElement.groupElement("iov_base")), data);
        iov.set(JAVA_LONG, Libc.IOVEC.byteOffset(MemoryLayout.PathElement.groupElement("iov_len")), data.byteSize());
        MemorySegment msg = a.allocate(MSGHDR);
        msg.set(ADDRESS, MSG_IOV, iov);
        msg.set(JAVA_LONG, MSG_IOVLEN, 1L);
        msg.set(ADDRESS, MSG_CONTROL, control);
        msg.set(JAVA_LONG, MSG_CONTROLLEN, control.byteSize());
        return msg;
    }

    private static String describe(MemorySegment address) {
        if (address.byteSize() > SUN_PATH && address.get(JAVA_SHORT, 0) == AF_UNIX) {
            byte[] path = address.asSlice(SUN_PATH).toArray(JAVA_BYTE);
            int end = 0;
            while (end < path.length && path[end] != 0) {
                end++;
            }
            return new String(path, 0, end, StandardCharsets.UTF_8);
        }
        return "address family " + (address.byteSize() >= 2 ? address.get(JAVA_SHORT, 0) : -1);
    }
}
