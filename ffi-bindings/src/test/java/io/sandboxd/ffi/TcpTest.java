package io.sandboxd.ffi;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

class TcpTest {
    @Test
    void aHeaderHeldBackWithMsgMoreAndItsDataArriveInOrder() throws Exception {
        byte[] file = new byte[300_000];
        for (int i = 0; i < file.length; i++) {
            file[i] = (byte) (i * 7);
        }
        int listener = Sockets.socket(Sockets.AF_INET, Sockets.SOCK_STREAM | Sockets.SOCK_CLOEXEC, 0);
        try (Arena arena = Arena.ofConfined()) {
            Tcp.setIntOption(listener, Sockets.SOL_SOCKET, Tcp.SO_REUSEADDR, 1);
            Sockets.bind(listener, Tcp.address(arena, new InetSocketAddress(InetAddress.getLoopbackAddress(), 0)));
            Sockets.listen(listener, 4);
            int port = Tcp.localPort(listener);
            assertTrue(port > 0);
            try (Socket client = new Socket("127.0.0.1", port)) {
                int conn = Sockets.accept4(listener, Sockets.SOCK_CLOEXEC);
                try {
                    Tcp.setIntOption(conn, Tcp.IPPROTO_TCP, Tcp.TCP_NODELAY, 1);
                    assertEquals(1, Tcp.intOption(conn, Tcp.IPPROTO_TCP, Tcp.TCP_NODELAY));
                    MemorySegment header = arena.allocateFrom("HEAD");
                    assertEquals(4, Tcp.sendRaw(conn, header, 4, Tcp.MSG_MORE | Sockets.MSG_NOSIGNAL));
                    MemorySegment data = arena.allocate(file.length - 1000);
                    MemorySegment.copy(MemorySegment.ofArray(file), 1000, data, 0, data.byteSize());
                    long sent = 0;
                    while (sent < data.byteSize()) {
                        long n = Tcp.sendRaw(conn, data.asSlice(sent), data.byteSize() - sent, Sockets.MSG_NOSIGNAL);
                        assertTrue(n > 0, "send: errno " + -n);
                        sent += n;
                    }
                    Tcp.shutdown(conn, Tcp.SHUT_WR);
                    InputStream in = client.getInputStream();
                    byte[] got = in.readAllBytes();
                    assertArrayEquals("HEAD".getBytes(), Arrays.copyOf(got, 4));
                    assertArrayEquals(Arrays.copyOfRange(file, 1000, file.length), Arrays.copyOfRange(got, 4, got.length));

                    client.getOutputStream().write(new byte[] {1, 2, 3});
                    MemorySegment back = arena.allocate(16);
                    assertEquals(3, Tcp.recvRaw(conn, back, 16, 0));
                    assertEquals(3, back.get(java.lang.foreign.ValueLayout.JAVA_BYTE, 2));
                } finally {
                    Libc.close(conn);
                }
            }
        } finally {
            Libc.close(listener);
        }
    }

    @Test
    void aConnectionThatWasNotRedirectedHasNoOriginalDestination() throws Exception {
        int listener = Sockets.socket(Sockets.AF_INET, Sockets.SOCK_STREAM | Sockets.SOCK_CLOEXEC, 0);
        try (Arena arena = Arena.ofConfined()) {
            Sockets.bind(listener, Tcp.address(arena, new InetSocketAddress(InetAddress.getLoopbackAddress(), 0)));
            Sockets.listen(listener, 1);
            try (Socket client = new Socket("127.0.0.1", Tcp.localPort(listener))) {
                int conn = Sockets.accept4(listener, Sockets.SOCK_CLOEXEC);
                try {
                    NativeException e = org.junit.jupiter.api.Assertions.assertThrows(NativeException.class,
                            () -> Tcp.originalDestination(conn));
                    assertEquals(Errno.ENOENT, e.errno(), e.getMessage());
                    assertTrue(e.getMessage().contains("SO_ORIGINAL_DST"), e.getMessage());
                } finally {
                    Libc.close(conn);
                }
            }
        } finally {
            Libc.close(listener);
        }
    }
}
