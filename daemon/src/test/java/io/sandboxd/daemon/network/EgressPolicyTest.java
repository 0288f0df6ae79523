package io.sandboxd.daemon.network;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class EgressPolicyTest {
    @Test
    void internetAccessOnWithoutRulesIsOpenAndOffIsClosed() {
        assertTrue(EgressPolicy.of(true, List.of(), List.of()).isOpen());
        assertEquals(EgressPolicy.CLOSED, EgressPolicy.of(false, List.of(), List.of()));
        assertFalse(EgressPolicy.CLOSED.isOpen());
    }

    @Test
    void addressesBecomeHostCidrsAndDenyingAllSubsumesNarrowerDenies() {
        EgressPolicy p = EgressPolicy.of(true, List.of("1.1.1.1", "8.8.8.0/24"), List.of("9.9.9.9", "0.0.0.0/0"));
        assertEquals(List.of(Ipv4Cidr.parse("1.1.1.1/32"), Ipv4Cidr.parse("8.8.8.0/24")), p.allow());
        assertEquals(List.of(EgressPolicy.ALL_TRAFFIC), p.deny());
        assertFalse(p.checksDomains());
    }

    @Test
    void allowOnlyWithInternetOnIsStillOpen() {
        // allowOut wins over denyOut; with nothing denied, an allow list restricts nothing (as E2B documents)
        assertTrue(EgressPolicy.of(true, List.of("1.1.1.1"), List.of()).isOpen());
    }

    @Test
    void domainsNeedEverythingElseDenied() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> EgressPolicy.of(true, List.of("example.com"), List.of()));
        assertTrue(e.getMessage().contains("denyOut does not contain 0.0.0.0/0"), e.getMessage());
        EgressPolicy p = EgressPolicy.of(false, List.of("Example.COM.", "*.api.test"), List.of());
        assertTrue(p.checksDomains());
        assertTrue(p.allowsDomain("example.com"));
        assertTrue(p.allowsDomain("x.y.api.test"));
        assertFalse(p.allowsDomain("api.test"), "a wildcard does not cover its apex");
        assertFalse(p.allowsDomain("www.example.com"), "an exact name does not cover subdomains");
        assertFalse(p.allowsDomain("example.com.evil.test"));
    }

    @ParameterizedTest(name = "{0} in {1}: {2}")
    @CsvSource(delimiter = '|', value = {
            "example.com | denyOut | is a domain: denyOut takes IPv4 addresses and CIDRs only",
            "10.0.0.1/33 | allowOut | is not an IPv4 address or CIDR",
            "10.0.0.1/8 | denyOut | has host bits set",
            "256.1.1.1 | allowOut | is not an IPv4 address or CIDR",
            "::1 | allowOut | IPv6 is not supported",
            "2001:db8::/32 | denyOut | IPv6 is not supported",
            "* | allowOut | '*' is not a domain",
            "a.*.example.com | allowOut | a wildcard may only be a whole leading label",
            "bad_label-.example.com | allowOut | is not a valid domain name",
            "'' | allowOut | is not an IPv4 address or CIDR",
    })
    void badEntriesNameTheFieldAndTheEntry(String entry, String field, String why) {
        List<String> one = List.of(entry);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> {
            if (field.equals("allowOut")) {
                EgressPolicy.of(false, one, List.of());
            } else {
                EgressPolicy.of(true, List.of(), one);
            }
        });
        assertTrue(e.getMessage().startsWith(field + " entry '" + entry + "'"), e.getMessage());
        assertTrue(e.getMessage().contains(why), e.getMessage());
    }
}
