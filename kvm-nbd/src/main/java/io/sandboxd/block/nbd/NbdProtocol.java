package io.sandboxd.block.nbd;

import io.sandboxd.ffi.Nbd;

/**
 * NBD protocol numbers that are not in the kernel's {@code <linux/nbd.h>} (those come from {@link Nbd} and are
 * header-checked): the fixed newstyle handshake, option replies, info types, and the commands and flags newer than
 * the kernel header. Values are from the NBD protocol document ({@code doc/proto.md} of NetworkBlockDevice/nbd).
 */
public final class NbdProtocol {
    /** "NBDMAGIC": first 8 bytes the server sends. */
    public static final long NBDMAGIC = 0x4e42444d41474943L;
    /** "IHAVEOPT": newstyle magic, also the prefix of every client option. */
    public static final long IHAVEOPT = 0x49484156454F5054L;
    /** Magic of option replies in fixed newstyle. */
    public static final long REPLY_MAGIC_OPT = 0x3e889045565a9L;
    public static final int REQUEST_MAGIC = Nbd.NBD_REQUEST_MAGIC;
    public static final int SIMPLE_REPLY_MAGIC = Nbd.NBD_REPLY_MAGIC;

    // Handshake flags (server, 16 bits) and client flags (32 bits).
    public static final int FLAG_FIXED_NEWSTYLE = 1 << 0;
    public static final int FLAG_NO_ZEROES = 1 << 1;
    public static final int FLAG_C_FIXED_NEWSTYLE = 1 << 0;
    public static final int FLAG_C_NO_ZEROES = 1 << 1;

    // Options.
    public static final int OPT_EXPORT_NAME = 1;
    public static final int OPT_ABORT = 2;
    public static final int OPT_LIST = 3;
    public static final int OPT_STARTTLS = 5;
    public static final int OPT_INFO = 6;
    public static final int OPT_GO = 7;
    public static final int OPT_STRUCTURED_REPLY = 8;
    public static final int OPT_LIST_META_CONTEXT = 9;
    public static final int OPT_SET_META_CONTEXT = 10;

    // Option reply types; errors have bit 31 set.
    public static final int REP_ACK = 1;
    public static final int REP_SERVER = 2;
    public static final int REP_INFO = 3;
    public static final int REP_ERR_UNSUP = 0x8000_0001;
    public static final int REP_ERR_POLICY = 0x8000_0002;
    public static final int REP_ERR_INVALID = 0x8000_0003;
    public static final int REP_ERR_PLATFORM = 0x8000_0004;
    public static final int REP_ERR_TLS_REQD = 0x8000_0005;
    public static final int REP_ERR_UNKNOWN = 0x8000_0006;
    public static final int REP_ERR_SHUTDOWN = 0x8000_0007;
    public static final int REP_ERR_BLOCK_SIZE_REQD = 0x8000_0008;
    public static final int REP_ERR_TOO_BIG = 0x8000_0009;

    // NBD_REP_INFO types.
    public static final int INFO_EXPORT = 0;
    public static final int INFO_NAME = 1;
    public static final int INFO_DESCRIPTION = 2;
    public static final int INFO_BLOCK_SIZE = 3;

    // Transmission flags (16 bits).
    public static final int FLAG_HAS_FLAGS = Nbd.NBD_FLAG_HAS_FLAGS;
    public static final int FLAG_READ_ONLY = Nbd.NBD_FLAG_READ_ONLY;
    public static final int FLAG_SEND_FLUSH = Nbd.NBD_FLAG_SEND_FLUSH;
    public static final int FLAG_SEND_FUA = Nbd.NBD_FLAG_SEND_FUA;
    public static final int FLAG_SEND_TRIM = Nbd.NBD_FLAG_SEND_TRIM;
    public static final int FLAG_SEND_WRITE_ZEROES = 1 << 6;
    public static final int FLAG_CAN_MULTI_CONN = Nbd.NBD_FLAG_CAN_MULTI_CONN;

    // Commands (16 bits).
    public static final int CMD_READ = Nbd.NBD_CMD_READ;
    public static final int CMD_WRITE = Nbd.NBD_CMD_WRITE;
    public static final int CMD_DISC = Nbd.NBD_CMD_DISC;
    public static final int CMD_FLUSH = Nbd.NBD_CMD_FLUSH;
    public static final int CMD_TRIM = Nbd.NBD_CMD_TRIM;
    public static final int CMD_CACHE = 5;
    public static final int CMD_WRITE_ZEROES = 6;
    public static final int CMD_BLOCK_STATUS = 7;

    // Command flags (16 bits; the kernel's NBD_CMD_FLAG_FUA is the same bit shifted into its 32-bit type).
    public static final int CMD_FLAG_FUA = Nbd.NBD_CMD_FLAG_FUA >>> 16;
    public static final int CMD_FLAG_NO_HOLE = 1 << 1;
    public static final int CMD_FLAG_DF = 1 << 2;
    public static final int CMD_FLAG_REQ_ONE = 1 << 3;
    public static final int CMD_FLAG_FAST_ZERO = 1 << 4;

    // Error values in replies.
    public static final int EPERM = 1;
    public static final int EIO = 5;
    public static final int ENOMEM = 12;
    public static final int EINVAL = 22;
    public static final int ENOSPC = 28;
    public static final int EOVERFLOW = 75;
    public static final int ENOTSUP = 95;
    public static final int ESHUTDOWN = 108;

    private NbdProtocol() {
    }
}
