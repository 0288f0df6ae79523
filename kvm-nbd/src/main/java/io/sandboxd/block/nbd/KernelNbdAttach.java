package io.sandboxd.block.nbd;

import io.sandboxd.ffi.Libc;
import io.sandboxd.ffi.NativeException;
import io.sandboxd.ffi.Nbd;
import io.sandboxd.ffi.Netlink;
import io.sandboxd.ffi.Sockets;
import java.io.EOFException;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Attaches an NBD export to a kernel block device {@code /dev/nbdN}, for hosts with the {@code nbd} module.
 *
 * <p>The kernel only speaks the transmission phase, so each socket is connected and taken through the handshake
 * ({@link ClientHandshake}, OPT_GO) here, then handed to the driver: first through the generic netlink family
 * {@code "nbd"} ({@code NBD_CMD_CONNECT}: size, block size, flags and the socket fds in one message; the kernel picks
 * a free device when no index is given), and when that family is missing (old kernels) through the ioctls on
 * {@code /dev/nbdN} ({@code NBD_SET_BLKSIZE}, {@code NBD_SET_SIZE_BLOCKS}, {@code NBD_SET_FLAGS},
 * {@code NBD_SET_SOCK}, then {@code NBD_DO_IT}, which blocks for the life of the device, on its own platform
 * thread). {@link #close()} disconnects the device.
 */
public final class KernelNbdAttach implements AutoCloseable {
    private static final int LOOPBACK = 0x7f00_0001;
    private static final int BLOCK_SIZE = 4096;

    private final int index;
    private final boolean viaNetlink;
    private final int deviceFd;
    private final Thread doIt;
    private final ClientHandshake.Negotiated negotiated;

    private KernelNbdAttach(int index, boolean viaNetlink, int deviceFd, Thread doIt, ClientHandshake.Negotiated n) {
        this.index = index;
        this.viaNetlink = viaNetlink;
        this.deviceFd = deviceFd;
        this.doIt = doIt;
        this.negotiated = n;
    }

    /** Why this host cannot attach, or null when it can ({@code /dev/nbd0} exists). */
    public static String unavailableReason() {
        if (!Files.exists(Path.of("/dev/nbd0"))) {
            return "no /dev/nbd0: the nbd kernel module is not loaded (modprobe nbd) or not available on this kernel";
        }
        return null;
    }

    public int index() {
        return index;
    }

    public Path device() {
        return Path.of("/dev/nbd" + index);
    }

    public ClientHandshake.Negotiated negotiated() {
        return negotiated;
    }

    /**
     * Connects {@code connections} sockets to {@code 127.0.0.1:port}, negotiates {@code exportName} and attaches
     * them to {@code /dev/nbd<index>} ({@code index < 0}: any free device, netlink only).
     */
    public static KernelNbdAttach attach(int port, String exportName, int index, int connections) throws IOException {
        if (connections < 1 || connections > 16) {
            throw new IllegalArgumentException("connections must be 1..16");
        }
        List<Integer> fds = new ArrayList<>();
        try {
            ClientHandshake.Negotiated n = null;
            for (int i = 0; i < connections; i++) {
                int fd = Sockets.socket(Sockets.AF_INET, Sockets.SOCK_STREAM | Sockets.SOCK_CLOEXEC, 0);
                fds.add(fd);
                try (Arena a = Arena.ofConfined()) {
                    Sockets.connect(fd, Netlink.inetAddress(a, LOOPBACK, port));
                }
                n = ClientHandshake.go(fdIo(fd), exportName);
            }
            if (n.size() % BLOCK_SIZE != 0) {
                throw new IOException("export size " + n.size() + " is not a multiple of " + BLOCK_SIZE);
            }
            Integer familyId = resolveFamily(Nbd.NBD_GENL_FAMILY_NAME);
            if (familyId != null) {
                int got = netlinkConnect(familyId, index, n, fds);
                return new KernelNbdAttach(got, true, -1, null, n);
            }
            if (index < 0 || connections != 1) {
                throw new IOException("the nbd generic netlink family is missing; the ioctl fallback needs an explicit"
                        + " device index and a single connection");
            }
            return ioctlAttach(index, n, fds.getFirst());
        } finally {
            // The kernel holds its own reference to each socket; ours are no longer needed.
            for (int fd : fds) {
                Libc.close(fd);
            }
        }
    }

    private static KernelNbdAttach ioctlAttach(int index, ClientHandshake.Negotiated n, int sock) {
        int dev = Libc.open("/dev/nbd" + index, Libc.O_RDWR | Libc.O_CLOEXEC);
        try {
            Libc.ioctl(dev, Nbd.NBD_SET_BLKSIZE, BLOCK_SIZE, "NBD_SET_BLKSIZE");
            Libc.ioctl(dev, Nbd.NBD_SET_SIZE_BLOCKS, n.size() / BLOCK_SIZE, "NBD_SET_SIZE_BLOCKS");
            Libc.ioctl(dev, Nbd.NBD_SET_FLAGS, n.transmissionFlags(), "NBD_SET_FLAGS");
            Libc.ioctl(dev, Nbd.NBD_SET_SOCK, sock, "NBD_SET_SOCK");
        } catch (NativeException e) {
            Libc.close(dev);
            throw e;
        }
        Thread t = Thread.ofPlatform().name("nbd" + index + "-do-it").daemon().start(() -> {
            // Returns when the device is disconnected.
            Libc.ioctlRaw(dev, Nbd.NBD_DO_IT, 0L);
        });
        return new KernelNbdAttach(index, false, dev, t, n);
    }

    @Override
    public void close() throws IOException {
        if (viaNetlink) {
            Integer family = resolveFamily(Nbd.NBD_GENL_FAMILY_NAME);
            if (family == null) {
                throw new IOException("nbd netlink family vanished; cannot disconnect /dev/nbd" + index);
            }
            try (Arena a = Arena.ofConfined()) {
                Message m = new Message(a, family, Nbd.NBD_CMD_DISCONNECT, Nbd.NBD_GENL_VERSION);
                m.u32(Nbd.NBD_ATTR_INDEX, index);
                transact(m, null);
            }
        } else {
            Libc.ioctlRaw(deviceFd, Nbd.NBD_DISCONNECT, 0L);
            Libc.ioctlRaw(deviceFd, Nbd.NBD_CLEAR_SOCK, 0L);
            try {
                doIt.join(10_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            Libc.close(deviceFd);
        }
    }

    // ---- generic netlink ---------------------------------------------------------------------------------------

    private static int netlinkConnect(int family, int index, ClientHandshake.Negotiated n, List<Integer> fds)
            throws IOException {
        try (Arena a = Arena.ofConfined()) {
            Message m = new Message(a, family, Nbd.NBD_CMD_CONNECT, Nbd.NBD_GENL_VERSION);
            if (index >= 0) {
                m.u32(Nbd.NBD_ATTR_INDEX, index);
            }
            m.u64(Nbd.NBD_ATTR_SIZE_BYTES, n.size());
            m.u64(Nbd.NBD_ATTR_BLOCK_SIZE_BYTES, BLOCK_SIZE);
            m.u64(Nbd.NBD_ATTR_SERVER_FLAGS, n.transmissionFlags());
            m.u64(Nbd.NBD_ATTR_TIMEOUT, 30);
            int sockets = m.begin(Nbd.NBD_ATTR_SOCKETS);
            for (int fd : fds) {
                int item = m.begin(Nbd.NBD_SOCK_ITEM);
                m.u32(Nbd.NBD_SOCK_FD, fd);
                m.end(item);
            }
            m.end(sockets);
            int[] got = {index};
            transact(m, (type, attrs) -> {
                Integer idx = attrs.u32(Nbd.NBD_ATTR_INDEX);
                if (idx != null) {
                    got[0] = idx;
                }
            });
            if (got[0] < 0) {
                throw new IOException("kernel connected an nbd device but did not say which");
            }
            return got[0];
        }
    }

    /** The generic netlink family id for {@code name}, or null when the kernel has no such family. */
    static Integer resolveFamily(String name) throws IOException {
        try (Arena a = Arena.ofConfined()) {
            Message m = new Message(a, Netlink.GENL_ID_CTRL, Netlink.CTRL_CMD_GETFAMILY, 1);
            m.string(Netlink.CTRL_ATTR_FAMILY_NAME, name);
            Integer[] id = {null};
            try {
                transact(m, (type, attrs) -> id[0] = attrs.u16(Netlink.CTRL_ATTR_FAMILY_ID));
            } catch (NativeException e) {
                if (e.errno() == io.sandboxd.ffi.Errno.ENOENT) {
                    return null;
                }
                throw e;
            }
            return id[0];
        }
    }

    private interface ReplyHandler {
        void reply(int type, Attrs attrs);
    }

    /** Sends one request with NLM_F_ACK and reads until the ack; a negative ack throws the kernel's errno. */
    private static void transact(Message m, ReplyHandler handler) throws IOException {
        int fd = Sockets.socket(Netlink.AF_NETLINK, Netlink.SOCK_RAW | Sockets.SOCK_CLOEXEC, Netlink.NETLINK_GENERIC);
        try (Arena a = Arena.ofConfined()) {
            Sockets.bind(fd, Netlink.kernelAddress(a));
            Sockets.connect(fd, Netlink.kernelAddress(a));
            MemorySegment request = m.finish();
            if (Libc.write(fd, request) != request.byteSize()) {
                throw new IOException("short write of a netlink request");
            }
            MemorySegment buf = a.allocate(64 << 10, 8);
            while (true) {
                long n = Libc.read(fd, buf);
                long at = 0;
                while (at + Netlink.NLMSGHDR.byteSize() <= n) {
                    int len = buf.get(ValueLayout.JAVA_INT, at);
                    int type = Short.toUnsignedInt(buf.get(ValueLayout.JAVA_SHORT, at + 4));
                    if (len < Netlink.NLMSGHDR.byteSize() || at + len > n) {
                        throw new IOException("malformed netlink reply");
                    }
                    if (type == Netlink.NLMSG_ERROR) {
                        int error = buf.get(ValueLayout.JAVA_INT, at + Netlink.NLMSGHDR.byteSize());
                        if (error != 0) {
                            throw new NativeException("netlink request", -error);
                        }
                        return;
                    }
                    if (type != Netlink.NLMSG_DONE && handler != null) {
                        long payload = at + Netlink.NLMSGHDR.byteSize() + Netlink.GENLMSGHDR.byteSize();
                        handler.reply(type, new Attrs(buf.asSlice(payload, at + len - payload)));
                    }
                    at += Netlink.align(len);
                }
            }
        } finally {
            Libc.close(fd);
        }
    }

    /** A generic netlink request being built: nlmsghdr, genlmsghdr, then attributes (nested ones via begin/end). */
    private static final class Message {
        private final MemorySegment seg;
        private int at;

        Message(Arena a, int type, int cmd, int version) {
            seg = a.allocate(4096, 8);
            seg.set(ValueLayout.JAVA_SHORT, 4, (short) type);
            seg.set(ValueLayout.JAVA_SHORT, 6, (short) (Netlink.NLM_F_REQUEST | Netlink.NLM_F_ACK));
            seg.set(ValueLayout.JAVA_INT, 8, 1);
            seg.set(ValueLayout.JAVA_BYTE, 16, (byte) cmd);
            seg.set(ValueLayout.JAVA_BYTE, 17, (byte) version);
            at = (int) (Netlink.NLMSGHDR.byteSize() + Netlink.GENLMSGHDR.byteSize());
        }

        private void attr(int type, byte[] payload) {
            int len = 4 + payload.length;
            seg.set(ValueLayout.JAVA_SHORT, at, (short) len);
            seg.set(ValueLayout.JAVA_SHORT, at + 2, (short) type);
            MemorySegment.copy(payload, 0, seg, ValueLayout.JAVA_BYTE, at + 4, payload.length);
            at += Netlink.align(len);
        }

        void u32(int type, int v) {
            attr(type, ByteBuffer.allocate(4).order(ByteOrder.nativeOrder()).putInt(v).array());
        }

        void u64(int type, long v) {
            attr(type, ByteBuffer.allocate(8).order(ByteOrder.nativeOrder()).putLong(v).array());
        }

        void string(int type, String s) {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            byte[] z = new byte[b.length + 1];
            System.arraycopy(b, 0, z, 0, b.length);
            attr(type, z);
        }

        int begin(int type) {
            int start = at;
            seg.set(ValueLayout.JAVA_SHORT, at + 2, (short) (type | Netlink.NLA_F_NESTED));
            at += 4;
            return start;
        }

        void end(int start) {
            seg.set(ValueLayout.JAVA_SHORT, start, (short) (at - start));
        }

        MemorySegment finish() {
            seg.set(ValueLayout.JAVA_INT, 0, at);
            return seg.asSlice(0, at);
        }
    }

    /** Top-level attributes of a reply. */
    private record Attrs(MemorySegment seg) {
        private MemorySegment find(int type) {
            long at = 0;
            while (at + 4 <= seg.byteSize()) {
                int len = Short.toUnsignedInt(seg.get(ValueLayout.JAVA_SHORT, at));
                int t = Short.toUnsignedInt(seg.get(ValueLayout.JAVA_SHORT, at + 2)) & ~Netlink.NLA_F_NESTED;
                if (len < 4 || at + len > seg.byteSize()) {
                    return null;
                }
                if (t == type) {
                    return seg.asSlice(at + 4, len - 4);
                }
                at += Netlink.align(len);
            }
            return null;
        }

        Integer u32(int type) {
            MemorySegment s = find(type);
            return s == null || s.byteSize() < 4 ? null : s.get(ValueLayout.JAVA_INT_UNALIGNED, 0);
        }

        Integer u16(int type) {
            MemorySegment s = find(type);
            return s == null || s.byteSize() < 2 ? null : Short.toUnsignedInt(s.get(ValueLayout.JAVA_SHORT_UNALIGNED, 0));
        }
    }

    /** Handshake I/O over a raw socket fd (the fd the kernel will own). */
    private static ClientHandshake.Io fdIo(int fd) {
        return new ClientHandshake.Io() {
            @Override
            public void writeFully(ByteBuffer src) throws IOException {
                try (Arena a = Arena.ofConfined()) {
                    MemorySegment s = a.allocate(src.remaining());
                    s.copyFrom(MemorySegment.ofBuffer(src));
                    long off = 0;
                    while (off < s.byteSize()) {
                        off += Libc.write(fd, s.asSlice(off));
                    }
                    src.position(src.limit());
                }
            }

            @Override
            public void readFully(ByteBuffer dst) throws IOException {
                try (Arena a = Arena.ofConfined()) {
                    MemorySegment s = a.allocate(Math.max(1, dst.remaining()));
                    long off = 0;
                    long want = dst.remaining();
                    while (off < want) {
                        long k = Libc.read(fd, s.asSlice(off, want - off));
                        if (k == 0) {
                            throw new EOFException("NBD server closed during the handshake");
                        }
                        off += k;
                    }
                    dst.put(s.asSlice(0, want).asByteBuffer());
                }
            }
        };
    }
}
