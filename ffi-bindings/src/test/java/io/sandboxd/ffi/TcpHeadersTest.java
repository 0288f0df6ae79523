package io.sandboxd.ffi;

import io.sandboxd.ffi.headers.HeaderCheck;
import org.junit.jupiter.api.Test;

class TcpHeadersTest {
    @Test
    void tcpMatchesTheSystemHeaders() throws Exception {
        new HeaderCheck("tcp")
                .struct("sockaddr_in", Tcp.SOCKADDR_IN)
                .struct("sockaddr_in6", Tcp.SOCKADDR_IN6)
                .constant("IPPROTO_TCP", Tcp.IPPROTO_TCP).constant("TCP_NODELAY", Tcp.TCP_NODELAY)
                .constant("SO_REUSEADDR", Tcp.SO_REUSEADDR).constant("SO_SNDBUF", Tcp.SO_SNDBUF)
                .constant("SO_RCVBUF", Tcp.SO_RCVBUF).constant("MSG_MORE", Tcp.MSG_MORE)
                .constant("SHUT_RD", Tcp.SHUT_RD).constant("SHUT_WR", Tcp.SHUT_WR).constant("SHUT_RDWR", Tcp.SHUT_RDWR)
                .constant("SOL_IP", Tcp.SOL_IP).constant("SO_ORIGINAL_DST", Tcp.SO_ORIGINAL_DST)
                .verify();
    }
}
