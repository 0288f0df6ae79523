package io.sandboxd.daemon.network;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class SlotAllocatorTest {
    @Test
    void handsOutTheLowestFreeSlotAndReusesReleasedOnes() {
        SlotAllocator a = new SlotAllocator(3);
        assertEquals(0, a.allocate());
        assertEquals(1, a.allocate());
        assertEquals(2, a.allocate());
        IllegalStateException full = assertThrows(IllegalStateException.class, a::allocate);
        assertTrue(full.getMessage().contains("all 3 network slots are in use"), full.getMessage());
        a.release(1);
        assertEquals(1, a.allocate());
        assertThrows(IllegalStateException.class, () -> a.release(7));
    }

    @Test
    void slotsAreConsecutiveSlash30sOfTheSubnet() {
        NetworkConfig c = NetworkConfig.defaults().withSubnet("10.11.0.0/16").withNamePrefix("sbx");
        assertEquals(16384, c.slotCount());
        NetworkSlot s = NetworkSlot.of(c, 0);
        assertEquals("10.11.0.1", s.hostIp());
        assertEquals("10.11.0.2", s.sandboxIp());
        assertEquals("sbx-0", s.netnsName());
        assertEquals("sbxh0", s.hostVeth());
        NetworkSlot last = NetworkSlot.of(c, 16383);
        assertEquals("10.11.255.253", last.hostIp());
        assertEquals("10.11.255.254", last.sandboxIp());
        assertTrue(last.hostVeth().length() <= 15, "interface names fit IFNAMSIZ");
        assertThrows(IllegalArgumentException.class, () -> NetworkSlot.of(c, 16384));
    }

    @Test
    void configRejectsWhatWouldBreakNames() {
        NetworkConfig c = NetworkConfig.defaults();
        assertThrows(IllegalArgumentException.class, () -> c.withNamePrefix("toolongname"));
        assertThrows(IllegalArgumentException.class, () -> c.withNamePrefix("Sbx"));
        assertThrows(IllegalArgumentException.class, () -> c.withSubnet("10.11.0.1/16"));
        assertThrows(IllegalArgumentException.class, () -> c.withSubnet("10.11.0.0/30"));
        assertThrows(IllegalArgumentException.class, () -> c.withDnsServers(List.of("not-an-ip")));
    }

    @Test
    void cidrParsingAndContainment() {
        Ipv4Cidr c = Ipv4Cidr.parse("172.16.0.0/12");
        assertTrue(c.contains(Ipv4Cidr.parseAddress("172.31.255.255")));
        assertTrue(!c.contains(Ipv4Cidr.parseAddress("172.32.0.0")));
        assertEquals("172.16.0.0/12", c.toString());
        assertThrows(IllegalArgumentException.class, () -> Ipv4Cidr.parse("1.2.3.256/8"));
        assertThrows(IllegalArgumentException.class, () -> Ipv4Cidr.parse("1.2.3/8"));
    }
}
