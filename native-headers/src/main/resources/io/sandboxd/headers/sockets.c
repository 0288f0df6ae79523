/* Socket declarations bound by io.sandboxd.ffi.Sockets. */
#include "probe.h"
#include <sys/socket.h>
#include <sys/un.h>

/* The offset of CMSG_DATA from its header, through the public macro rather than glibc's private member name. */
#define CMSG_DATA_OFFSET ((size_t)CMSG_DATA((struct cmsghdr *)0))

int main(void) {
    STRUCT(sockaddr_un) FIELD(sockaddr_un, sun_family) FIELD(sockaddr_un, sun_path)
    STRUCT(msghdr) FIELD(msghdr, msg_name) FIELD(msghdr, msg_namelen) FIELD(msghdr, msg_iov)
    FIELD(msghdr, msg_iovlen) FIELD(msghdr, msg_control) FIELD(msghdr, msg_controllen) FIELD(msghdr, msg_flags)
    STRUCT(cmsghdr) FIELD(cmsghdr, cmsg_len) FIELD(cmsghdr, cmsg_level) FIELD(cmsghdr, cmsg_type)

    CONST(AF_UNIX) CONST(AF_INET) CONST(AF_INET6)
    CONST(SOCK_STREAM) CONST(SOCK_DGRAM) CONST(SOCK_SEQPACKET) CONST(SOCK_NONBLOCK) CONST(SOCK_CLOEXEC)
    CONST(SOL_SOCKET) CONST(SCM_RIGHTS)
    CONST(MSG_CTRUNC) CONST(MSG_TRUNC) CONST(MSG_DONTWAIT) CONST(MSG_NOSIGNAL) CONST(MSG_CMSG_CLOEXEC)

    /* the CMSG_* macros Sockets recomputes in Java, at the sizes it uses */
    CONST(CMSG_DATA_OFFSET)
    CONST(CMSG_ALIGN(1)) CONST(CMSG_ALIGN(8)) CONST(CMSG_ALIGN(13))
    CONST(CMSG_LEN(sizeof(int))) CONST(CMSG_SPACE(sizeof(int)))
    CONST(CMSG_LEN(sizeof(int[3]))) CONST(CMSG_SPACE(sizeof(int[3])))
    return 0;
}
