package io.sandboxd.block.nbd;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * An NBD server on a TCP port: an accept thread and one platform thread per connection ({@link NbdConnection}
 * says why). Exports are fixed at start; the first one is also the default export (empty name), which is what
 * {@code nbd://host:port} clients ask for.
 */
public final class NbdServer implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(NbdServer.class.getName());

    private final ServerSocketChannel listener;
    private final Map<String, Export> exports;
    private final NbdLimits limits;
    private final Thread acceptor;
    private final Set<SocketChannel> open = ConcurrentHashMap.newKeySet();
    private final AtomicInteger active = new AtomicInteger();
    private final AtomicInteger ids = new AtomicInteger();

    private NbdServer(ServerSocketChannel listener, Map<String, Export> exports, NbdLimits limits) {
        this.listener = listener;
        this.exports = exports;
        this.limits = limits;
        this.acceptor = Thread.ofPlatform().name("nbd-accept-" + port()).daemon().unstarted(this::acceptLoop);
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
        ServerSocketChannel l = ServerSocketChannel.open();
        try {
            l.setOption(StandardSocketOptions.SO_REUSEADDR, true);
            l.bind(address, 128);
        } catch (IOException e) {
            l.close();
            throw new IOException("cannot listen on " + address + ": " + e.getMessage(), e);
        }
        NbdServer s = new NbdServer(l, Map.copyOf(byName), limits);
        s.acceptor.start();
        return s;
    }

    public int port() {
        try {
            return ((InetSocketAddress) listener.getLocalAddress()).getPort();
        } catch (IOException e) {
            return -1;
        }
    }

    public int activeConnections() {
        return active.get();
    }

    private void acceptLoop() {
        while (listener.isOpen()) {
            SocketChannel c;
            try {
                c = listener.accept();
            } catch (ClosedChannelException e) {
                return;
            } catch (IOException e) {
                LOG.log(System.Logger.Level.WARNING, "nbd accept failed: {0}", e.toString());
                continue;
            }
            if (active.incrementAndGet() > limits.maxConnections()) {
                active.decrementAndGet();
                closeQuietly(c);
                LOG.log(System.Logger.Level.WARNING, "nbd: connection refused, {0} already open", limits.maxConnections());
                continue;
            }
            try {
                c.setOption(StandardSocketOptions.TCP_NODELAY, true);
                open.add(c);
                NbdConnection conn = new NbdConnection(new SocketTransport(c), exports, limits);
                Thread.ofPlatform().name("nbd-conn-" + ids.incrementAndGet()).daemon().start(() -> {
                    try {
                        conn.run();
                    } finally {
                        open.remove(c);
                        closeQuietly(c);
                        active.decrementAndGet();
                    }
                });
            } catch (IOException | RuntimeException | OutOfMemoryError e) {
                open.remove(c);
                closeQuietly(c);
                active.decrementAndGet();
                LOG.log(System.Logger.Level.WARNING, "nbd: could not start a connection: {0}", e.toString());
            }
        }
    }

    /** Stops accepting and drops every connection. The exports' devices stay open (their owner closes them). */
    @Override
    public void close() throws IOException {
        listener.close();
        for (SocketChannel c : open) {
            closeQuietly(c);
        }
        try {
            acceptor.join(5_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void closeQuietly(SocketChannel c) {
        try {
            c.close();
        } catch (IOException ignored) {
            // closing a socket that already failed
        }
    }
}
