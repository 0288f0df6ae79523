package io.sandboxd.envd.server;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.ServerSocketChannel;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpServerExpectContinueHandler;
import io.sandboxd.envd.auth.EnvdAuth;
import io.sandboxd.envd.connect.ConnectDispatcher;
import io.sandboxd.envd.http.HttpRouter;
import java.net.InetSocketAddress;
import java.util.concurrent.Executor;

/**
 * The HTTP/1.1 listener: Netty (epoll when available), one small event loop group (envd lives inside a small
 * sandbox), all blocking work on the worker executor.
 */
public final class EnvdServer implements AutoCloseable {
    /** Largest small-body request ({@code /init}) and largest Connect request message. */
    public static final int MAX_BODY_BYTES = 16 << 20;

    private final EventLoopGroup group;
    private final Channel listener;

    private EnvdServer(EventLoopGroup group, Channel listener) {
        this.group = group;
        this.listener = listener;
    }

    public static EnvdServer start(InetSocketAddress address, HttpRouter http, ConnectDispatcher connect,
                                   EnvdAuth auth, Executor workers) throws InterruptedException {
        boolean epoll = Epoll.isAvailable();
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(Math.min(2, Runtime.getRuntime().availableProcessors()),
                epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory());
        Class<? extends ServerSocketChannel> type = epoll ? EpollServerSocketChannel.class : NioServerSocketChannel.class;
        try {
            Channel ch = new ServerBootstrap()
                    .group(group)
                    .channel(type)
                    .option(ChannelOption.SO_BACKLOG, 1024)
                    .option(ChannelOption.SO_REUSEADDR, true)
                    .childOption(ChannelOption.TCP_NODELAY, true)
                    .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, new WriteBufferWaterMark(256 << 10, 1 << 20))
                    .childHandler(new ChannelInitializer<SocketChannel>() {
                        @Override
                        protected void initChannel(SocketChannel ch) {
                            ch.pipeline()
                                    .addLast("http", new HttpServerCodec())
                                    .addLast("continue", new HttpServerExpectContinueHandler())
                                    .addLast("envd", new EnvdHttpHandler(http, connect, auth, workers, MAX_BODY_BYTES));
                        }
                    })
                    .bind(address).sync().channel();
            return new EnvdServer(group, ch);
        } catch (RuntimeException | InterruptedException e) {
            group.shutdownGracefully();
            throw e;
        }
    }

    public InetSocketAddress address() {
        return (InetSocketAddress) listener.localAddress();
    }

    public void awaitClose() throws InterruptedException {
        listener.closeFuture().sync();
    }

    @Override
    public void close() {
        listener.close().syncUninterruptibly();
        group.shutdownGracefully(0, 2, java.util.concurrent.TimeUnit.SECONDS).syncUninterruptibly();
    }
}
