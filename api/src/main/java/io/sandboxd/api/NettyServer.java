package io.sandboxd.api;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;

/** One listening socket with its own event loops; {@link #close()} stops accepting and shuts the loops down. */
public final class NettyServer implements AutoCloseable {
    private final EventLoopGroup boss;
    private final EventLoopGroup workers;
    private final Channel listener;

    private NettyServer(EventLoopGroup boss, EventLoopGroup workers, Channel listener) {
        this.boss = boss;
        this.workers = workers;
        this.listener = listener;
    }

    /**
     * Binds {@code address} (port 0 picks a free port) with {@code initializer} for each accepted connection.
     *
     * @param ioThreads event-loop threads; these only move bytes, blocking work goes to executors
     */
    public static NettyServer start(String name, InetSocketAddress address, int ioThreads, ChannelHandler initializer)
            throws InterruptedException {
        EventLoopGroup boss = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        EventLoopGroup workers = new MultiThreadIoEventLoopGroup(ioThreads, NioIoHandler.newFactory());
        try {
            Channel listener = new ServerBootstrap()
                    .group(boss, workers)
                    .channel(NioServerSocketChannel.class)
                    .option(ChannelOption.SO_BACKLOG, 1024)
                    .childOption(ChannelOption.TCP_NODELAY, true)
                    .childHandler(initializer)
                    .bind(address).sync().channel();
            return new NettyServer(boss, workers, listener);
        } catch (Exception e) {
            boss.shutdownGracefully(0, 0, TimeUnit.SECONDS);
            workers.shutdownGracefully(0, 0, TimeUnit.SECONDS);
            throw new IllegalStateException("cannot listen for " + name + " on " + address + ": " + e.getMessage()
                    + " (is another process using the port? pick another with the port flag)", e);
        }
    }

    public InetSocketAddress address() {
        return (InetSocketAddress) listener.localAddress();
    }

    public int port() {
        return address().getPort();
    }

    @Override
    public void close() {
        listener.close().syncUninterruptibly();
        var a = boss.shutdownGracefully(0, 2, TimeUnit.SECONDS);
        var b = workers.shutdownGracefully(0, 2, TimeUnit.SECONDS);
        a.syncUninterruptibly();
        b.syncUninterruptibly();
    }
}
