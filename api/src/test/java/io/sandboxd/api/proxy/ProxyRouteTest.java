package io.sandboxd.api.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;
import org.junit.jupiter.api.Test;

/** The routing table of spec section 2: which Host/header combinations go where, and the exact 400 messages. */
class ProxyRouteTest {
    static final String DOMAIN = "sandbox.test";

    static HttpHeaders headers(String host, String id, String port) {
        HttpHeaders h = new DefaultHttpHeaders();
        if (host != null) {
            h.set("Host", host);
        }
        if (id != null) {
            h.set(ProxyRoute.SANDBOX_ID_HEADER, id);
        }
        if (port != null) {
            h.set(ProxyRoute.SANDBOX_PORT_HEADER, port);
        }
        return h;
    }

    static ProxyRoute route(String host, String id, String port) {
        return ProxyRoute.parse(headers(host, id, port), DOMAIN);
    }

    static String refusal(String host, String id, String port) {
        return assertThrows(ProxyRoute.Invalid.class, () -> route(host, id, port)).getMessage();
    }

    @Test
    void hostRule() {
        assertEquals(new ProxyRoute("abc123", 49983), route("49983-abc123.sandbox.test", null, null));
        assertEquals(new ProxyRoute("abc123", 8080), route("8080-abc123.sandbox.test:3002", null, null));
        assertEquals(new ProxyRoute("abc123", 8080), route("8080-ABC123.Sandbox.Test", null, null),
                "host names are case-insensitive");
        assertEquals(new ProxyRoute("abc123", 3000), route("3000-abc123-6532622b.other.example", null, null),
                "a legacy -clientID suffix is not part of the ID");
        assertEquals(new ProxyRoute("abc123", 8080), route("8080-abc123.elsewhere.dev", "zzz", "1"),
                "headers only count on the shared hosts");
    }

    @Test
    void headerRuleOnSharedHosts() {
        for (String host : new String[] {"sandbox.sandbox.test", "sandbox.sandbox.test:3002", "localhost",
                "localhost:3002", "127.0.0.1", "127.0.0.1:3002", "[::1]:3002", "::1"}) {
            assertEquals(new ProxyRoute("abc", 49983), route(host, "abc", "49983"), host);
        }
    }

    @Test
    void headerRuleRefusals() {
        assertEquals("missing header", refusal("localhost", "abc", null));
        assertEquals("missing header", refusal("127.0.0.1:3002", null, "49983"));
        assertEquals("Invalid sandbox port", refusal("localhost", "abc", "http"));
        assertEquals("Invalid sandbox port", refusal("localhost", "abc", "0"));
        assertEquals("Invalid sandbox port", refusal("localhost", "abc", "65536"));
        assertEquals("Invalid sandbox ID", refusal("sandbox.sandbox.test", "ABC", "49983"));
        assertEquals("Invalid sandbox ID", refusal("localhost", "a-b", "49983"));
        assertEquals("Invalid sandbox ID", refusal("localhost", "", "49983"));
    }

    @Test
    void hostRuleRefusals() {
        assertEquals("Invalid host", refusal("localhost", null, null));
        assertEquals("Invalid host", refusal(null, null, null));
        assertEquals("Invalid host", refusal("sandboxhost", null, null));
        assertEquals("Invalid host", refusal("sandbox.sandbox.test", null, null));
        assertEquals("Invalid host", refusal("www.example.com", null, null));
        assertEquals("Invalid sandbox port", refusal("web-abc.sandbox.test", null, null));
        assertEquals("Invalid sandbox ID", refusal("8080-ab_c.sandbox.test", null, null));
    }

    @Test
    void envdInternalRoutesAfterNormalisation() {
        for (String uri : new String[] {"/init", "/init?x=1", "/init/", "//init", "/%69nit", "/x/../init",
                "/./init", "/init/more", "http://49983-abc.sandbox.test/init", "HTTPS://h:1/%69nit?x", "//h/init",
                "//h/x/../init/", "http://h//init"}) {
            assertTrue(EnvdInternalRoutes.isInternal(uri), uri);
        }
        for (String uri : new String[] {"/", "/health", "/files?path=/init", "/initx", "/process.Process/Start",
                "/files/init", "http://h/", "http://h/files?path=/init", "http://h", "//h/health", "http://init/health",
                "/files?path=http://h/init"}) {
            assertFalse(EnvdInternalRoutes.isInternal(uri), uri);
        }
    }
}
