/* Generic netlink declarations bound by io.sandboxd.ffi.Netlink. */
#include "probe.h"
#include <sys/socket.h>
#include <netinet/in.h>
#include <linux/netlink.h>
#include <linux/genetlink.h>

int main(void) {
    STRUCT(nlmsghdr) FIELD(nlmsghdr, nlmsg_len) FIELD(nlmsghdr, nlmsg_type) FIELD(nlmsghdr, nlmsg_flags)
    FIELD(nlmsghdr, nlmsg_seq) FIELD(nlmsghdr, nlmsg_pid)
    STRUCT(genlmsghdr) FIELD(genlmsghdr, cmd) FIELD(genlmsghdr, version) FIELD(genlmsghdr, reserved)
    STRUCT(nlattr) FIELD(nlattr, nla_len) FIELD(nlattr, nla_type)
    STRUCT(nlmsgerr) FIELD(nlmsgerr, error) FIELD(nlmsgerr, msg) FIELD(nlmsgerr, msg.nlmsg_len)
    FIELD(nlmsgerr, msg.nlmsg_seq)
    STRUCT(sockaddr_nl) FIELD(sockaddr_nl, nl_family) FIELD(sockaddr_nl, nl_pad) FIELD(sockaddr_nl, nl_pid)
    FIELD(sockaddr_nl, nl_groups)
    STRUCT(sockaddr_in) FIELD(sockaddr_in, sin_family) FIELD(sockaddr_in, sin_port) FIELD(sockaddr_in, sin_addr)
    FIELD(sockaddr_in, sin_zero)

    CONST(AF_NETLINK) CONST(SOCK_RAW)
    CONST(NETLINK_GENERIC) CONST(NLM_F_REQUEST) CONST(NLM_F_ACK) CONST(NLMSG_ERROR) CONST(NLMSG_DONE)
    CONST(NLA_F_NESTED) CONST(NLMSG_ALIGNTO) CONST(NLA_ALIGNTO)
    CONST(GENL_ID_CTRL) CONST(CTRL_CMD_GETFAMILY) CONST(CTRL_ATTR_FAMILY_ID) CONST(CTRL_ATTR_FAMILY_NAME)
    return 0;
}
