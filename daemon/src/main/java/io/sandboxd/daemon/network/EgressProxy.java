package io.sandboxd.daemon.network;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.handler.timeout.ReadTimeoutHandler;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.sandboxd.ffi.Tcp;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * The transparent proxy that enforces domain rules: the firewall redirects a restricted sandbox's connections to
 * ports 80 and 443 here; the proxy reads the name the client asks for ({@link RequestedName}: TLS SNI or HTTP Host),
 * and if the sandbox's policy allows that domain it connects to where the client was going
 * ({@code SO_ORIGINAL_DST}) and relays bytes both ways without looking further. Anything else is closed; a plain
 * HTTP request gets a 403 that says why, so a user sees the policy rather than a hang.
 *
 * <p>The original destination is checked again against the host's denied ranges, so a redirect can never be
 * used to reach a private address. The listening socket is on all addresses (each slot's host address differs)
 * but the firewall only lets redirected sandbox connections reach it, and connections from an address that is no
 * restricted sandbox's are closed at once.
 */
public final class EgressProxy implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(EgressProxy.class.getName());
    /** How long a client may take to send the bytes that name its destination. */
    static final int NAME_TIMEOUT_SECONDS = 10;

    private final EventLoopGroup group;
    private final Channel server;
    private final Function<InetAddress, EgressPolicy> policies;
    private final List<Ipv4Cidr> deniedRanges;

    private EgressProxy(EventLoopGroup group, Channel server, Function<InetAddress, EgressPolicy> policies,
                        List<Ipv4Cidr> deniedRanges) {
        this.group = group;
        this.server = server;
        this.policies = policies;
        this.deniedRanges = deniedRanges;
    }

    /**
     * Listens on an ephemeral port of every address.
     *
     * @param policies the policy of the sandbox with this address, or null for an address that is none
     */
    public static EgressProxy start(Function<InetAddress, EgressPolicy> policies, List<Ipv4Cidr> deniedRanges) {
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("egress-proxy", true),
                EpollIoHandler.newFactory());
        EgressProxy[] self = new EgressProxy[1];
        try {
            Channel server = new ServerBootstrap().group(group).channel(EpollServerSocketChannel.class)
                    .childOption(ChannelOption.AUTO_READ, true)
                    .childHandler(new ChannelInitializer<EpollSocketChannel>() {
                        @Override
                        protected void initChannel(EpollSocketChannel ch) {
                            ch.pipeline().addLast(new ReadTimeoutHandler(NAME_TIMEOUT_SECONDS, TimeUnit.SECONDS),
                                    self[0].new Client(ch));
                        }
                    })
                    .bind(new InetSocketAddress(0)).syncUninterruptibly().channel();
            self[0] = new EgressProxy(group, server, policies, List.copyOf(deniedRanges));
            return self[0];
        } catch (RuntimeException e) {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
            throw e;
        }
    }

    public int port() {
        return ((InetSocketAddress) server.localAddress()).getPort();
    }

    @Override
    public void close() {
        server.close().syncUninterruptibly();
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
    }

    private boolean denied(InetAddress a) {
        if (!(a instanceof Inet4Address v4)) {
            return true;
        }
        int ip = Ipv4Cidr.address(v4);
        return deniedRanges.stream().anyMatch(c -> c.contains(ip));
    }

    /** One redirected connection from a sandbox, until its name is read; then a relay. */
    private final class Client extends ChannelInboundHandlerAdapter {
        private final EpollSocketChannel channel;
        private final byte[] peek = new byte[RequestedName.MAX_PEEK];
        private int peeked;
        private EgressPolicy policy;
        private InetSocketAddress destination;
        private Channel upstream;
        private boolean connecting;

        Client(EpollSocketChannel channel) {
            this.channel = channel;
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            InetAddress source = channel.remoteAddress().getAddress();
            policy = policies.apply(source);
            if (policy == null || !policy.checksDomains()) {
                refuse(ctx, "connection from " + source.getHostAddress() + ", which is no sandbox with domain rules", null);
                return;
            }
            try {
                destination = Tcp.originalDestination(channel.fd().intValue());
            } catch (RuntimeException e) {
                refuse(ctx, "connection from " + source.getHostAddress() + " that was not redirected (" + e.getMessage() + ")", null);
                return;
            }
            ctx.fireChannelActive();
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ByteBuf buf = (ByteBuf) msg;
            if (upstream != null) {
                upstream.writeAndFlush(buf);
                return;
            }
            try {
                int n = Math.min(buf.readableBytes(), peek.length - peeked);
                buf.readBytes(peek, peeked, n);
                peeked += n;
            } finally {
                buf.release();
            }
            if (connecting) {
                if (peeked == peek.length) {
                    refuse(ctx, "sent more than " + peeked + " bytes before its destination answered", null);
                }
                return;
            }
            switch (RequestedName.read(peek, peeked)) {
                case RequestedName.More more -> {
                    if (peeked == peek.length) {
                        refuse(ctx, "no name in the first " + peeked + " bytes", null);
                    }
                }
                case RequestedName.Unreadable u -> refuse(ctx, u.why(), null);
                case RequestedName.Found found -> decide(ctx, found);
            }
        }

        private void decide(ChannelHandlerContext ctx, RequestedName.Found found) {
            if (!policy.allowsDomain(found.host())) {
                refuse(ctx, "'" + found.host() + "' is not in the sandbox's allowOut", found);
                return;
            }
            if (denied(destination.getAddress())) {
                refuse(ctx, "'" + found.host() + "' was asked of " + destination.getAddress().getHostAddress()
                        + ", a denied (private or host) address", found);
                return;
            }
            connecting = true;
            ctx.pipeline().remove(ReadTimeoutHandler.class);
            ChannelFuture connect = new Bootstrap().group(ctx.channel().eventLoop()).channel(EpollSocketChannel.class)
                    .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, NAME_TIMEOUT_SECONDS * 1000)
                    .option(ChannelOption.AUTO_READ, false)
                    .handler(new Relay(ctx.channel()))
                    .connect(destination);
            connect.addListener((ChannelFutureListener) f -> {
                connecting = false;
                if (!ctx.channel().isActive()) {
                    f.channel().close();
                    return;
                }
                if (!f.isSuccess()) {
                    LOG.log(System.Logger.Level.INFO, "egress: " + found.host() + " (" + destination + ") unreachable: "
                            + f.cause().getMessage());
                    ctx.close();
                    return;
                }
                upstream = f.channel();
                f.channel().writeAndFlush(Unpooled.wrappedBuffer(peek, 0, peeked)).addListener((ChannelFutureListener) w -> {
                    if (w.isSuccess()) {
                        w.channel().config().setAutoRead(true);
                    } else {
                        ctx.close();
                    }
                });
            });
        }

        private void refuse(ChannelHandlerContext ctx, String why, RequestedName.Found found) {
            LOG.log(System.Logger.Level.INFO, "egress refused from " + channel.remoteAddress().getAddress().getHostAddress()
                    + (destination == null ? "" : " to " + destination) + ": " + why);
            if (found != null && !found.tls()) {
                byte[] body = ("sandboxd egress policy: " + why + "\n").getBytes(StandardCharsets.UTF_8);
                String head = "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: "
                        + body.length + "\r\nConnection: close\r\n\r\n";
                ctx.writeAndFlush(Unpooled.wrappedBuffer(head.getBytes(StandardCharsets.US_ASCII), body))
                        .addListener(ChannelFutureListener.CLOSE);
            } else {
                ctx.close();
            }
        }

        @Override
        public void channelWritabilityChanged(ChannelHandlerContext ctx) {
            if (upstream != null) {
                upstream.config().setAutoRead(ctx.channel().isWritable());
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            if (upstream != null) {
                closeAfterFlush(upstream);
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }

    /** The upstream half: bytes from where the sandbox connected go back to the sandbox. */
    private static final class Relay extends ChannelInboundHandlerAdapter {
        private final Channel client;

        Relay(Channel client) {
            this.client = client;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            client.writeAndFlush(msg);
        }

        @Override
        public void channelWritabilityChanged(ChannelHandlerContext ctx) {
            client.config().setAutoRead(ctx.channel().isWritable());
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            closeAfterFlush(client);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }

    private static void closeAfterFlush(Channel ch) {
        if (ch.isActive()) {
            ch.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
        }
    }
}
