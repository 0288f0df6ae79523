package io.sandboxd.block.nbd;

import io.sandboxd.ffi.Errno;
import io.sandboxd.ffi.Libc;
import io.sandboxd.ffi.NativeException;
import io.sandboxd.ffi.Sockets;
import io.sandboxd.ffi.Tcp;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.net.Inet4Address;
import java.net.InetSocketAddress;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * An NBD server on a TCP port: an accept thread and one platform thread per connection ({@link NbdConnection}
 * says why). Exports are fixed at start; the first one is also the default export (empty name), which is what
 * {@code nbd://host:port} clients ask for. Sockets are used through their descriptors ({@link SocketTransport}):
 * {@code recv}/{@code send} without the JDK channel's locking, and {@code MSG_MORE} so a reply header leaves with
 * its data.
 */
public final class NbdServer implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(NbdServer.class.getName());

    /**
     * Send buffer of each connection (the kernel doubles it, capped by {@code net.core.wmem_max}): 1 MiB read replies
     * then queue with fewer sleeps and wake-ups of the sender than under autotuning (measured over 2 GiB of 1 MiB
     * reads: 45-55 ticks of server CPU against 52-62 by default; nbdkit used 69-91). 0 leaves autotuning on.
     */
    static final int SEND_BUFFER = Integer.getInteger("sandboxd.nbd.sndbuf", 4 << 20);

    private final int listener;
    private final int port;
    private final Map<String, Export> exports;
    private final NbdLimits limits;
    private final Thread acceptor;
    private final Set<SocketTransport> open = ConcurrentHashMap.newKeySet();
    private final Set<Thread> connections = ConcurrentHashMap.newKeySet();
    private final AtomicInteger active = new AtomicInteger();
    private final AtomicInteger ids = new AtomicInteger();
    private volatile boolean closing;

    private NbdServer(int listener, Map<String, Export> exports, NbdLimits limits) {
        this.listener = listener;
        this.port = Tcp.localPort(listener);
        this.exports = exports;
        this.limits = limits;
        this.acceptor = Thread.ofPlatform().name("nbd-accept-" + port).daemon().unstarted(this::acceptLoop);
    }

    /** Starts serving {@code exports} (at least one; names unique) on {@code address} (port 0 picks one). */
    public static NbdServer start(InetSocketAddress address, java.util.List<Export> exports, NbdLimits limits)
            throws IOException {
        if (exports.isEmpty()) {
            throw new IllegalArgumentException("an NBD server needs at least one export");
        }
        Map<String, Export> byName = new LinkedHashMap<>();
        for (Export e : exports) {
            if (byName.put(e.name(), e) != null) {
                throw new IllegalArgumentException("two exports named '" + e.name() + "'");
            }
        }
        byName.putIfAbsent("", exports.getFirst());
        int family = address.getAddress() instanceof Inet4Address ? Sockets.AF_INET : Sockets.AF_INET6;
        int l = Sockets.socket(family, Sockets.SOCK_STREAM | Sockets.SOCK_CLOEXEC, 0);
        try (Arena a = Arena.ofConfined()) {
            Tcp.setIntOption(l, Sockets.SOL_SOCKET, Tcp.SO_REUSEADDR, 1);
            Sockets.bind(l, Tcp.address(a, address));
            Sockets.listen(l, 128);
            NbdServer s = new NbdServer(l, Map.copyOf(byName), limits);
            s.acceptor.start();
            return s;
        } catch (NativeException | IllegalArgumentException e) {
            Libc.close(l);
            throw new IOException("cannot listen on " + address + ": " + e.getMessage(), e);
        }
    }

    public int port() {
        return port;
    }

    public int activeConnections() {
        return active.get();
    }

    private void acceptLoop() {
        while (!closing) {
            int c;
            try {
                c = Sockets.accept4(listener, Sockets.SOCK_CLOEXEC);
            } catch (NativeException e) {
                if (closing) {
                    return; // shutdown of the listener woke us
                }
                LOG.log(System.Logger.Level.WARNING, "nbd accept failed: {0}", e.getMessage());
                if (e.errno() == Errno.EMFILE || e.errno() == Errno.ENFILE) {
                    pause(); // out of descriptors: do not spin
                }
                continue;
            }
            SocketTransport t = new SocketTransport(c);
            if (closing || active.incrementAndGet() > limits.maxConnections()) {
                if (!closing) {
                    active.decrementAndGet();
                    LOG.log(System.Logger.Level.WARNING, "nbd: connection refused, {0} already open",
                            limits.maxConnections());
                }
                t.close();
                continue;
            }
            try {
                Tcp.setIntOption(c, Tcp.IPPROTO_TCP, Tcp.TCP_NODELAY, 1);
                if (SEND_BUFFER > 0) {
                    Tcp.setIntOption(c, Sockets.SOL_SOCKET, Tcp.SO_SNDBUF, SEND_BUFFER);
                }

                open.add(t);
                NbdConnection conn = new NbdConnection(t, exports, limits);
                Thread thread = Thread.ofPlatform().name("nbd-conn-" + ids.incrementAndGet()).daemon().unstarted(() -> {
                    try {
                        conn.run();
                    } finally {
                        open.remove(t);
                        t.close();
                        active.decrementAndGet();
                        connections.remove(Thread.currentThread());
                    }
                });
                connections.add(thread);
                thread.start();
            } catch (RuntimeException | OutOfMemoryError e) {
                open.remove(t);
                t.close();
                active.decrementAndGet();
                LOG.log(System.Logger.Level.WARNING, "nbd: could not start a connection: {0}", e.toString());
            }
        }
    }

    private static void pause() {
        try {
            Thread.sleep(100);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Stops accepting, drops every connection and waits (up to 10 s) for their threads to end. The exports'
     * devices stay open (their owner closes them, after this).
     */
    @Override
    public void close() throws IOException {
        if (closing) {
            return;
        }
        closing = true;
        try {
            Tcp.shutdown(listener, Tcp.SHUT_RDWR); // wakes accept4
        } catch (NativeException ignored) {
            // not listening any more
        }
        try {
            acceptor.join(5_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        for (SocketTransport t : open) {
            t.shutdown(); // each connection thread closes its own socket once its workers are gone
        }
        // Wait for the connections to end: the caller closes the exported devices next, and a connection still
        // reading from a device's mapping would then fail mid-request.
        long deadline = System.nanoTime() + 10_000_000_000L;
        for (Thread c : connections) {
            try {
                c.join(Math.max(1, (deadline - System.nanoTime()) / 1_000_000));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        if (!acceptor.isAlive()) {
            Libc.close(listener);
        }
    }
}
