package io.sandboxd.ffi;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.sandboxd.ffi.headers.HeaderCheck;
import org.junit.jupiter.api.Test;

class NbdHeadersTest {
    @Test
    void nbdMatchesTheSystemHeaders() throws Exception {
        new HeaderCheck("nbd")
                .struct("nbd_request", Nbd.NBD_REQUEST).struct("nbd_reply", Nbd.NBD_REPLY)
                .constant("NBD_SET_SOCK", Nbd.NBD_SET_SOCK).constant("NBD_SET_BLKSIZE", Nbd.NBD_SET_BLKSIZE)
                .constant("NBD_SET_SIZE", Nbd.NBD_SET_SIZE).constant("NBD_DO_IT", Nbd.NBD_DO_IT)
                .constant("NBD_CLEAR_SOCK", Nbd.NBD_CLEAR_SOCK).constant("NBD_CLEAR_QUE", Nbd.NBD_CLEAR_QUE)
                .constant("NBD_PRINT_DEBUG", Nbd.NBD_PRINT_DEBUG)
                .constant("NBD_SET_SIZE_BLOCKS", Nbd.NBD_SET_SIZE_BLOCKS)
                .constant("NBD_DISCONNECT", Nbd.NBD_DISCONNECT).constant("NBD_SET_TIMEOUT", Nbd.NBD_SET_TIMEOUT)
                .constant("NBD_SET_FLAGS", Nbd.NBD_SET_FLAGS)
                .constant("NBD_CMD_READ", Nbd.NBD_CMD_READ).constant("NBD_CMD_WRITE", Nbd.NBD_CMD_WRITE)
                .constant("NBD_CMD_DISC", Nbd.NBD_CMD_DISC).constant("NBD_CMD_FLUSH", Nbd.NBD_CMD_FLUSH)
                .constant("NBD_CMD_TRIM", Nbd.NBD_CMD_TRIM)
                .constant("NBD_FLAG_HAS_FLAGS", Nbd.NBD_FLAG_HAS_FLAGS)
                .constant("NBD_FLAG_READ_ONLY", Nbd.NBD_FLAG_READ_ONLY)
                .constant("NBD_FLAG_SEND_FLUSH", Nbd.NBD_FLAG_SEND_FLUSH)
                .constant("NBD_FLAG_SEND_FUA", Nbd.NBD_FLAG_SEND_FUA)
                .constant("NBD_FLAG_SEND_TRIM", Nbd.NBD_FLAG_SEND_TRIM)
                .constant("NBD_FLAG_CAN_MULTI_CONN", Nbd.NBD_FLAG_CAN_MULTI_CONN)
                .constant("NBD_CMD_FLAG_FUA", Nbd.NBD_CMD_FLAG_FUA)
                .constant("NBD_CFLAG_DESTROY_ON_DISCONNECT", Nbd.NBD_CFLAG_DESTROY_ON_DISCONNECT)
                .constant("NBD_CFLAG_DISCONNECT_ON_CLOSE", Nbd.NBD_CFLAG_DISCONNECT_ON_CLOSE)
                .constant("NBD_REQUEST_MAGIC", Nbd.NBD_REQUEST_MAGIC).constant("NBD_REPLY_MAGIC", Nbd.NBD_REPLY_MAGIC)
                .constant("NBD_GENL_VERSION", Nbd.NBD_GENL_VERSION)
                .constant("NBD_ATTR_UNSPEC", Nbd.NBD_ATTR_UNSPEC).constant("NBD_ATTR_INDEX", Nbd.NBD_ATTR_INDEX)
                .constant("NBD_ATTR_SIZE_BYTES", Nbd.NBD_ATTR_SIZE_BYTES)
                .constant("NBD_ATTR_BLOCK_SIZE_BYTES", Nbd.NBD_ATTR_BLOCK_SIZE_BYTES)
                .constant("NBD_ATTR_TIMEOUT", Nbd.NBD_ATTR_TIMEOUT)
                .constant("NBD_ATTR_SERVER_FLAGS", Nbd.NBD_ATTR_SERVER_FLAGS)
                .constant("NBD_ATTR_CLIENT_FLAGS", Nbd.NBD_ATTR_CLIENT_FLAGS)
                .constant("NBD_ATTR_SOCKETS", Nbd.NBD_ATTR_SOCKETS)
                .constant("NBD_ATTR_DEAD_CONN_TIMEOUT", Nbd.NBD_ATTR_DEAD_CONN_TIMEOUT)
                .constant("NBD_ATTR_DEVICE_LIST", Nbd.NBD_ATTR_DEVICE_LIST)
                .constant("NBD_ATTR_BACKEND_IDENTIFIER", Nbd.NBD_ATTR_BACKEND_IDENTIFIER)
                .constant("NBD_DEVICE_ITEM", Nbd.NBD_DEVICE_ITEM).constant("NBD_DEVICE_INDEX", Nbd.NBD_DEVICE_INDEX)
                .constant("NBD_DEVICE_CONNECTED", Nbd.NBD_DEVICE_CONNECTED)
                .constant("NBD_SOCK_ITEM", Nbd.NBD_SOCK_ITEM).constant("NBD_SOCK_FD", Nbd.NBD_SOCK_FD)
                .constant("NBD_CMD_UNSPEC", Nbd.NBD_CMD_UNSPEC).constant("NBD_CMD_CONNECT", Nbd.NBD_CMD_CONNECT)
                .constant("NBD_CMD_DISCONNECT", Nbd.NBD_CMD_DISCONNECT)
                .constant("NBD_CMD_RECONFIGURE", Nbd.NBD_CMD_RECONFIGURE)
                .constant("NBD_CMD_LINK_DEAD", Nbd.NBD_CMD_LINK_DEAD).constant("NBD_CMD_STATUS", Nbd.NBD_CMD_STATUS)
                .verify();
    }

    @Test
    void ioctlNumbersFollowTheIoFormula() {
        // _IO(0xab, n) = (0xab << 8) | n: no size, no direction bits.
        assertEquals(0xab00L, Nbd.NBD_SET_SOCK);
        assertEquals(0xab03L, Nbd.NBD_DO_IT);
        assertEquals(0xab0aL, Nbd.NBD_SET_FLAGS);
    }
}
