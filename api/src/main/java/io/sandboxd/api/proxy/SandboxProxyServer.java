package io.sandboxd.api.proxy;

import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.HttpServerCodec;
import io.sandboxd.api.NettyServer;
import java.net.InetSocketAddress;

/** The sandbox proxy (port 3002): client traffic for {@code <port>-<sandboxID>.<domain>} to that port in the sandbox. */
public final class SandboxProxyServer implements AutoCloseable {
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
                        ch.pipeline().addLast("http", new HttpServerCodec())
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
