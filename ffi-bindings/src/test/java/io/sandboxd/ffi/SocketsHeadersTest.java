package io.sandboxd.ffi;

import io.sandboxd.ffi.headers.HeaderCheck;
import org.junit.jupiter.api.Test;

class SocketsHeadersTest {
    @Test
    void socketsMatchTheSystemHeaders() throws Exception {
        new HeaderCheck("sockets")
                .struct("sockaddr_un", Sockets.SOCKADDR_UN)
                .struct("msghdr", Sockets.MSGHDR)
                .struct("cmsghdr", Sockets.CMSGHDR)
                .constant("AF_UNIX", Sockets.AF_UNIX).constant("AF_INET", Sockets.AF_INET)
                .constant("AF_INET6", Sockets.AF_INET6)
                .constant("SOCK_STREAM", Sockets.SOCK_STREAM).constant("SOCK_DGRAM", Sockets.SOCK_DGRAM)
                .constant("SOCK_SEQPACKET", Sockets.SOCK_SEQPACKET).constant("SOCK_NONBLOCK", Sockets.SOCK_NONBLOCK)
                .constant("SOCK_CLOEXEC", Sockets.SOCK_CLOEXEC)
                .constant("SOL_SOCKET", Sockets.SOL_SOCKET).constant("SCM_RIGHTS", Sockets.SCM_RIGHTS)
                .constant("MSG_CTRUNC", Sockets.MSG_CTRUNC).constant("MSG_TRUNC", Sockets.MSG_TRUNC)
                .constant("MSG_DONTWAIT", Sockets.MSG_DONTWAIT).constant("MSG_NOSIGNAL", Sockets.MSG_NOSIGNAL)
                .constant("MSG_CMSG_CLOEXEC", Sockets.MSG_CMSG_CLOEXEC)
                .constant("CMSG_DATA_OFFSET", Sockets.CMSG_DATA_OFFSET)
                .constant("CMSG_ALIGN(1)", Sockets.cmsgAlign(1)).constant("CMSG_ALIGN(8)", Sockets.cmsgAlign(8))
                .constant("CMSG_ALIGN(13)", Sockets.cmsgAlign(13))
                .constant("CMSG_LEN(sizeof(int))", Sockets.cmsgLen(Integer.BYTES))
                .constant("CMSG_SPACE(sizeof(int))", Sockets.cmsgSpace(Integer.BYTES))
                .constant("CMSG_LEN(sizeof(int[3]))", Sockets.cmsgLen(3 * Integer.BYTES))
                .constant("CMSG_SPACE(sizeof(int[3]))", Sockets.cmsgSpace(3 * Integer.BYTES))
                .verify();
    }
}
