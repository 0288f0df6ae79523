/* TCP socket declarations bound by io.sandboxd.ffi.Tcp. */
#include "probe.h"
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <linux/netfilter_ipv4.h>

int main(void) {
    STRUCT(sockaddr_in) FIELD(sockaddr_in, sin_family) FIELD(sockaddr_in, sin_port) FIELD(sockaddr_in, sin_addr)
    FIELD(sockaddr_in, sin_addr.s_addr) FIELD(sockaddr_in, sin_zero)
    STRUCT(sockaddr_in6) FIELD(sockaddr_in6, sin6_family) FIELD(sockaddr_in6, sin6_port)
    FIELD(sockaddr_in6, sin6_flowinfo) FIELD(sockaddr_in6, sin6_addr) FIELD(sockaddr_in6, sin6_scope_id)

    CONST(IPPROTO_TCP) CONST(TCP_NODELAY)
    CONST(SO_REUSEADDR) CONST(SO_SNDBUF) CONST(SO_RCVBUF)
    CONST(MSG_MORE)
    CONST(SHUT_RD) CONST(SHUT_WR) CONST(SHUT_RDWR)
    CONST(SOL_IP) CONST(SO_ORIGINAL_DST)
    return 0;
}
