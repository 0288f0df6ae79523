package io.sandboxd.api.proxy;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;

/**
 * The upstream side of one proxied connection: every message the sandbox sends is handed to the
 * {@link ProxyFrontendHandler} that owns this connection (both run on the same event loop).
 */
final class ProxyBackendHandler extends ChannelInboundHandlerAdapter {
    private final ProxyFrontendHandler frontend;

    ProxyBackendHandler(ProxyFrontendHandler frontend) {
        this.frontend = frontend;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        frontend.fromUpstream(ctx.channel(), msg);
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        frontend.upstreamReadComplete(ctx.channel());
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        frontend.upstreamWritabilityChanged(ctx.channel());
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        frontend.upstreamClosed(ctx.channel());
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        ctx.close();
    }
}
