package io.sandboxd.envd.files;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Optional;
import org.junit.jupiter.api.Test;

class AcceptEncodingTest {
    @Test
    void negotiatesGzipIdentityOrNothing() {
        assertEquals(Optional.of("identity"), AcceptEncoding.negotiate(null));
        assertEquals(Optional.of("gzip"), AcceptEncoding.negotiate("gzip"));
        assertEquals(Optional.of("gzip"), AcceptEncoding.negotiate("br, gzip;q=0.8, deflate"));
        assertEquals(Optional.of("gzip"), AcceptEncoding.negotiate("GZIP"));
        assertEquals(Optional.of("identity"), AcceptEncoding.negotiate("identity;q=1, gzip;q=0.5"));
        assertEquals(Optional.of("identity"), AcceptEncoding.negotiate("br"), "identity is implicitly acceptable");
        assertEquals(Optional.of("identity"), AcceptEncoding.negotiate("gzip;q=0"));
        assertEquals(Optional.of("identity"), AcceptEncoding.negotiate("*"));
        assertEquals(Optional.of("gzip"), AcceptEncoding.negotiate("*, identity;q=0"));
        assertEquals(Optional.empty(), AcceptEncoding.negotiate("br, identity;q=0"));
        assertEquals(Optional.empty(), AcceptEncoding.negotiate("br, *;q=0"));
    }

    @Test
    void uploadsAreGzipOrIdentity() {
        assertEquals("identity", AcceptEncoding.contentEncoding(null));
        assertEquals("gzip", AcceptEncoding.contentEncoding("gzip"));
        assertEquals("identity", AcceptEncoding.contentEncoding("identity"));
        assertThrows(IllegalArgumentException.class, () -> AcceptEncoding.contentEncoding("br"));
        assertThrows(IllegalArgumentException.class, () -> AcceptEncoding.contentEncoding("deflate"));
    }
}
