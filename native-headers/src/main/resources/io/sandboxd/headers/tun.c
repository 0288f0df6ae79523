/*
 * TUN/TAP declarations bound by io.sandboxd.ffi.Tun. struct ifreq comes from glibc's <net/if.h> (the same layout as
 * <linux/if.h>, which clashes with it); ifr_name and ifr_flags are that header's macros for the union paths below.
 */
#include "probe.h"
#include <net/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>

int main(void) {
    STRUCT(ifreq) FIELD(ifreq, ifr_ifrn) FIELD(ifreq, ifr_ifru)
    FIELD(ifreq, ifr_ifrn.ifrn_name) FIELD(ifreq, ifr_ifru.ifru_flags)

    CONST(IFNAMSIZ)
    CONST(IFF_TUN) CONST(IFF_TAP) CONST(IFF_MULTI_QUEUE) CONST(IFF_NO_PI) CONST(IFF_VNET_HDR)
    CONST(TUN_F_CSUM) CONST(TUN_F_TSO4) CONST(TUN_F_TSO6) CONST(TUN_F_TSO_ECN) CONST(TUN_F_UFO)
    CONST(TUNSETIFF) CONST(TUNSETPERSIST) CONST(TUNSETOFFLOAD) CONST(TUNGETIFF) CONST(TUNSETVNETHDRSZ)
    return 0;
}
