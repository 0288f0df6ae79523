package io.sandboxd.daemon.network;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLParameters;
import org.junit.jupiter.api.Test;

class RequestedNameTest {
    /** The first flight of a real TLS client (the JDK's), naming {@code host} in SNI, or no SNI when null. */
    private static byte[] clientHello(String host) throws Exception {
        SSLEngine engine = SSLContext.getDefault().createSSLEngine(host == null ? null : host, 443);
        engine.setUseClientMode(true);
        SSLParameters params = engine.getSSLParameters();
        params.setServerNames(host == null ? List.of() : List.of(new SNIHostName(host)));
        engine.setSSLParameters(params);
        ByteBuffer out = ByteBuffer.allocate(engine.getSession().getPacketBufferSize());
        engine.wrap(ByteBuffer.allocate(0), out);
        out.flip();
        byte[] b = new byte[out.remaining()];
        out.get(b);
        return b;
    }

    private static RequestedName read(byte[] b) {
        return RequestedName.read(Arrays.copyOf(b, RequestedName.MAX_PEEK), b.length);
    }

    private static RequestedName http(String head) {
        return read(head.getBytes(StandardCharsets.ISO_8859_1));
    }

    @Test
    void tlsServerNameOfARealClientHello() throws Exception {
        byte[] hello = clientHello("API.Example.com");
        assertEquals(new RequestedName.Found("api.example.com", true), read(hello));
    }

    @Test
    void aClientHelloArrivingInPiecesWaitsForTheRest() throws Exception {
        byte[] hello = clientHello("example.com");
        for (int cut : new int[] {1, 5, 9, 40, hello.length - 1}) {
            assertInstanceOf(RequestedName.More.class, read(Arrays.copyOf(hello, cut)), "cut at " + cut);
        }
    }

    @Test
    void tlsWithoutServerNameIsUnreadable() throws Exception {
        RequestedName r = read(clientHello(null));
        assertInstanceOf(RequestedName.Unreadable.class, r);
    }

    @Test
    void corruptedClientHelloIsUnreadableNotAnException() throws Exception {
        byte[] hello = clientHello("example.com");
        for (int i = 9; i < hello.length; i += 7) {
            byte[] bad = hello.clone();
            bad[i] = (byte) 0xff;
            RequestedName r = read(bad); // any answer is fine, but never a thrown exception or a wrong name
            if (r instanceof RequestedName.Found f) {
                assertEquals("example.com", f.host(), "byte " + i);
            }
        }
    }

    @Test
    void httpHostHeaderWithoutItsPort() {
        assertEquals(new RequestedName.Found("example.com", false),
                http("GET / HTTP/1.1\r\nUser-Agent: x\r\nHOST: Example.com:8080\r\n\r\n"));
        assertEquals(new RequestedName.Found("proxy.test", false),
                http("GET http://proxy.test/a HTTP/1.1\r\nHost: other.test\r\n\r\n"), "absolute-form target wins");
    }

    @Test
    void httpThatCannotNameAHost() {
        assertInstanceOf(RequestedName.More.class, http("GET / HTTP/1.1\r\nHost: exa"));
        assertInstanceOf(RequestedName.Unreadable.class, http("GET / HTTP/1.1\r\n\r\n"));
        assertInstanceOf(RequestedName.Unreadable.class, http("GET / HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\n\r\n"));
        assertInstanceOf(RequestedName.Unreadable.class, http("SSH-2.0-OpenSSH\r\n\r\n"));
        assertInstanceOf(RequestedName.Unreadable.class, http("GET / HTTP/1.1\r\nHost: a b\r\n\r\n"));
        byte[] huge = new byte[RequestedName.MAX_PEEK];
        Arrays.fill(huge, (byte) 'a');
        assertInstanceOf(RequestedName.Unreadable.class, RequestedName.read(huge, huge.length));
    }
}
