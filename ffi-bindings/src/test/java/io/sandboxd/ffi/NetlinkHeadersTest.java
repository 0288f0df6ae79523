package io.sandboxd.ffi;

import io.sandboxd.ffi.headers.HeaderCheck;
import org.junit.jupiter.api.Test;

class NetlinkHeadersTest {
    @Test
    void netlinkMatchesTheSystemHeaders() throws Exception {
        new HeaderCheck("netlink")
                .struct("nlmsghdr", Netlink.NLMSGHDR).struct("genlmsghdr", Netlink.GENLMSGHDR)
                .struct("nlattr", Netlink.NLATTR).struct("nlmsgerr", Netlink.NLMSGERR)
                .struct("sockaddr_nl", Netlink.SOCKADDR_NL).struct("sockaddr_in", Netlink.SOCKADDR_IN)
                .constant("AF_NETLINK", Netlink.AF_NETLINK).constant("SOCK_RAW", Netlink.SOCK_RAW)
                .constant("NETLINK_GENERIC", Netlink.NETLINK_GENERIC)
                .constant("NLM_F_REQUEST", Netlink.NLM_F_REQUEST).constant("NLM_F_ACK", Netlink.NLM_F_ACK)
                .constant("NLMSG_ERROR", Netlink.NLMSG_ERROR).constant("NLMSG_DONE", Netlink.NLMSG_DONE)
                .constant("NLA_F_NESTED", Netlink.NLA_F_NESTED).constant("NLMSG_ALIGNTO", Netlink.NLMSG_ALIGNTO)
                .constant("NLA_ALIGNTO", Netlink.NLA_ALIGNTO).constant("GENL_ID_CTRL", Netlink.GENL_ID_CTRL)
                .constant("CTRL_CMD_GETFAMILY", Netlink.CTRL_CMD_GETFAMILY)
                .constant("CTRL_ATTR_FAMILY_ID", Netlink.CTRL_ATTR_FAMILY_ID)
                .constant("CTRL_ATTR_FAMILY_NAME", Netlink.CTRL_ATTR_FAMILY_NAME)
                .verify();
    }
}
