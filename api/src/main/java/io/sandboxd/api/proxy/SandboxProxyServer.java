package io.sandboxd.api.proxy;

import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.socket.SocketChannel;
import io.sandboxd.api.NettyServer;
import io.sandboxd.api.http.StrictHttpServerCodec;
import io.netty.handler.timeout.IdleStateHandler;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/** The sandbox proxy (port 3002): client traffic for {@code <port>-<sandboxID>.<domain>} to that port in the sandbox. */
public final class SandboxProxyServer implements AutoCloseable {
    /**
     * A client connection with no request in progress for this long is closed; connections in the middle of an
     * exchange or a tunnel are never timed out here (Connect streams may be quiet for a long time).
     */
    static final Duration IDLE_TIMEOUT = Duration.ofMinutes(5);
    private final NettyServer server;

    private SandboxProxyServer(NettyServer server) {
        this.server = server;
    }

    /**
     * @param domain the sandbox domain: {@code sandbox.<domain>} takes the header routing rule
     */
    public static SandboxProxyServer start(InetSocketAddress address, String domain, SandboxRouter router,
                                           int ioThreads) throws InterruptedException {
        return new SandboxProxyServer(NettyServer.start("the sandbox proxy", address, ioThreads,
                new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        // Reads are driven by the relay (backpressure), never automatic.
                        ch.config().setOption(ChannelOption.AUTO_READ, false);
                        ch.pipeline()
                                .addLast("idle", new IdleStateHandler(0, 0, IDLE_TIMEOUT.toSeconds(),
                                        TimeUnit.SECONDS))
                                .addLast("http", new StrictHttpServerCodec())
                                .addLast("relay", new ProxyFrontendHandler(router, domain));
                    }
                }));
    }

    public int port() {
        return server.port();
    }

    @Override
    public void close() {
        server.close();
    }
}
