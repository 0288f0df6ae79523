package io.sandboxd.ffi;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * The kernel side of NBD: {@code <linux/nbd.h>} (the wire request/reply structs, the {@code /dev/nbdN} ioctls, the
 * command and transmission-flag numbers the kernel driver knows) and {@code <linux/nbd-netlink.h>} (the generic
 * netlink family that configures devices). Verified against the system headers by {@code NbdHeadersTest}.
 *
 * <p>The newstyle handshake (options, option replies, info types) and the commands newer than the kernel's header
 * (WRITE_ZEROES and friends) are not in these headers; they belong to the protocol codec in {@code kvm-nbd}.
 *
 * <p>Wire structs are packed and big-endian: the layouts use unaligned, big-endian value layouts so a
 * {@code MemorySegment} view reads them as the network sends them.
 */
public final class Nbd {
    private static final ValueLayout.OfInt BE_INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    private static final ValueLayout.OfLong BE_LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);

    /**
     * {@code struct nbd_request} (packed, 28 bytes). {@code type} carries the command in its low 16 bits and the
     * command flags in its high 16 bits; {@code handle} is the client's opaque cookie.
     */
    public static final StructLayout NBD_REQUEST = MemoryLayout.structLayout(
            BE_INT.withName("magic"),
            BE_INT.withName("type"),
            MemoryLayout.sequenceLayout(8, JAVA_BYTE).withName("handle"),
            BE_LONG.withName("from"),
            BE_INT.withName("len")).withName("nbd_request");

    /** {@code struct nbd_reply} (16 bytes): the simple reply header. */
    public static final StructLayout NBD_REPLY = MemoryLayout.structLayout(
            BE_INT.withName("magic"),
            BE_INT.withName("error"),
            MemoryLayout.sequenceLayout(8, JAVA_BYTE).withName("handle")).withName("nbd_reply");

    // ioctls on /dev/nbdN: all _IO(0xab, n), the argument passed as an unsigned long.
    private static final int NBD_IOCTL_TYPE = 0xab;
    public static final long NBD_SET_SOCK = Ioctl.io(NBD_IOCTL_TYPE, 0);
    public static final long NBD_SET_BLKSIZE = Ioctl.io(NBD_IOCTL_TYPE, 1);
    public static final long NBD_SET_SIZE = Ioctl.io(NBD_IOCTL_TYPE, 2);
    public static final long NBD_DO_IT = Ioctl.io(NBD_IOCTL_TYPE, 3);
    public static final long NBD_CLEAR_SOCK = Ioctl.io(NBD_IOCTL_TYPE, 4);
    public static final long NBD_CLEAR_QUE = Ioctl.io(NBD_IOCTL_TYPE, 5);
    public static final long NBD_PRINT_DEBUG = Ioctl.io(NBD_IOCTL_TYPE, 6);
    public static final long NBD_SET_SIZE_BLOCKS = Ioctl.io(NBD_IOCTL_TYPE, 7);
    public static final long NBD_DISCONNECT = Ioctl.io(NBD_IOCTL_TYPE, 8);
    public static final long NBD_SET_TIMEOUT = Ioctl.io(NBD_IOCTL_TYPE, 9);
    public static final long NBD_SET_FLAGS = Ioctl.io(NBD_IOCTL_TYPE, 10);

    // Transmission commands the kernel header knows (the low 16 bits of nbd_request.type).
    public static final int NBD_CMD_READ = 0;
    public static final int NBD_CMD_WRITE = 1;
    public static final int NBD_CMD_DISC = 2;
    public static final int NBD_CMD_FLUSH = 3;
    public static final int NBD_CMD_TRIM = 4;

    // Transmission flags (sent by the server, handed to the kernel with NBD_SET_FLAGS or NBD_ATTR_SERVER_FLAGS).
    public static final int NBD_FLAG_HAS_FLAGS = 1 << 0;
    public static final int NBD_FLAG_READ_ONLY = 1 << 1;
    public static final int NBD_FLAG_SEND_FLUSH = 1 << 2;
    public static final int NBD_FLAG_SEND_FUA = 1 << 3;
    public static final int NBD_FLAG_SEND_TRIM = 1 << 5;
    public static final int NBD_FLAG_CAN_MULTI_CONN = 1 << 8;

    /** FUA in the kernel's 32-bit {@code type}: command flags sit in the upper 16 bits. */
    public static final int NBD_CMD_FLAG_FUA = 1 << 16;

    // Client flags for NBD_ATTR_CLIENT_FLAGS.
    public static final int NBD_CFLAG_DESTROY_ON_DISCONNECT = 1 << 0;
    public static final int NBD_CFLAG_DISCONNECT_ON_CLOSE = 1 << 1;

    public static final int NBD_REQUEST_MAGIC = 0x25609513;
    public static final int NBD_REPLY_MAGIC = 0x67446698;

    // <linux/nbd-netlink.h>: the "nbd" generic netlink family.
    /** {@code NBD_GENL_FAMILY_NAME}: a string macro, so the probe cannot print it; resolved at run time. */
    public static final String NBD_GENL_FAMILY_NAME = "nbd";
    public static final int NBD_GENL_VERSION = 0x1;

    public static final int NBD_ATTR_UNSPEC = 0;
    public static final int NBD_ATTR_INDEX = 1;
    public static final int NBD_ATTR_SIZE_BYTES = 2;
    public static final int NBD_ATTR_BLOCK_SIZE_BYTES = 3;
    public static final int NBD_ATTR_TIMEOUT = 4;
    public static final int NBD_ATTR_SERVER_FLAGS = 5;
    public static final int NBD_ATTR_CLIENT_FLAGS = 6;
    public static final int NBD_ATTR_SOCKETS = 7;
    public static final int NBD_ATTR_DEAD_CONN_TIMEOUT = 8;
    public static final int NBD_ATTR_DEVICE_LIST = 9;
    public static final int NBD_ATTR_BACKEND_IDENTIFIER = 10;

    public static final int NBD_DEVICE_ITEM = 1;
    public static final int NBD_DEVICE_INDEX = 1;
    public static final int NBD_DEVICE_CONNECTED = 2;

    public static final int NBD_SOCK_ITEM = 1;
    public static final int NBD_SOCK_FD = 1;

    // Generic netlink commands of the family (not to be confused with the wire NBD_CMD_READ...).
    public static final int NBD_CMD_UNSPEC = 0;
    public static final int NBD_CMD_CONNECT = 1;
    public static final int NBD_CMD_DISCONNECT = 2;
    public static final int NBD_CMD_RECONFIGURE = 3;
    public static final int NBD_CMD_LINK_DEAD = 4;
    public static final int NBD_CMD_STATUS = 5;

    private Nbd() {
    }
}
