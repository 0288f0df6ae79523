package io.sandboxd.ffi;

import io.sandboxd.ffi.headers.HeaderCheck;
import org.junit.jupiter.api.Test;

class TunHeadersTest {
    @Test
    void tunMatchesTheSystemHeaders() throws Exception {
        new HeaderCheck("tun")
                .struct("ifreq", Tun.IFREQ)
                .constant("IFNAMSIZ", Tun.IFNAMSIZ)
                .constant("IFF_TUN", Tun.IFF_TUN).constant("IFF_TAP", Tun.IFF_TAP)
                .constant("IFF_MULTI_QUEUE", Tun.IFF_MULTI_QUEUE).constant("IFF_NO_PI", Tun.IFF_NO_PI)
                .constant("IFF_VNET_HDR", Tun.IFF_VNET_HDR)
                .constant("TUN_F_CSUM", Tun.TUN_F_CSUM).constant("TUN_F_TSO4", Tun.TUN_F_TSO4)
                .constant("TUN_F_TSO6", Tun.TUN_F_TSO6).constant("TUN_F_TSO_ECN", Tun.TUN_F_TSO_ECN)
                .constant("TUN_F_UFO", Tun.TUN_F_UFO)
                .constant("TUNSETIFF", Tun.TUNSETIFF).constant("TUNSETPERSIST", Tun.TUNSETPERSIST)
                .constant("TUNSETOFFLOAD", Tun.TUNSETOFFLOAD).constant("TUNGETIFF", Tun.TUNGETIFF)
                .constant("TUNSETVNETHDRSZ", Tun.TUNSETVNETHDRSZ)
                .verify();
    }
}
