package io.sandboxd.api.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpVersion;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

/** Refusal paths of the relay on an EmbeddedChannel: every body buffer the proxy does not forward is released. */
class ProxyFrontendHandlerTest {
    static HttpRequest post(String host, String uri) {
        HttpRequest r = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, uri);
        r.headers().set(HttpHeaderNames.HOST, host).set(HttpHeaderNames.TRANSFER_ENCODING, "chunked");
        return r;
    }

    static ByteBuf bytes(String s) {
        return Unpooled.copiedBuffer(s, StandardCharsets.UTF_8);
    }

    static FullHttpResponse response(EmbeddedChannel ch) {
        ch.runPendingTasks();
        FullHttpResponse r = ch.readOutbound();
        return r;
    }

    @Test
    void refusedBodiesAreReleasedAndTheConnectionStaysUsable() {
        SandboxRouter router = (id, port) -> CompletableFuture.completedFuture(new SandboxRouter.Resolution.NotFound());
        EmbeddedChannel ch = new EmbeddedChannel(new ProxyFrontendHandler(router, "sandbox.test"));
        for (int i = 0; i < 2; i++) {
            ByteBuf part = bytes("part");
            ByteBuf last = bytes("last");
            ch.writeInbound(post("49983-abc.sandbox.test", "/files"), new DefaultHttpContent(part),
                    new DefaultLastHttpContent(last));
            FullHttpResponse r = response(ch);
            assertEquals(502, r.status().code());
            assertTrue(r.content().toString(StandardCharsets.UTF_8).contains("The sandbox was not found"));
            r.release();
            assertEquals(0, part.refCnt());
            assertEquals(0, last.refCnt());
            assertTrue(ch.isOpen(), "keep-alive after a refusal");
        }
        assertFalse(ch.finishAndReleaseAll());
    }

    @Test
    void initAndBadRoutesReleaseTheirBodies() {
        SandboxRouter router = (id, port) -> {
            throw new AssertionError("never routed");
        };
        EmbeddedChannel ch = new EmbeddedChannel(new ProxyFrontendHandler(router, "sandbox.test"));
        ByteBuf init = bytes("{\"accessToken\":\"x\"}");
        ch.writeInbound(post("49983-abc.sandbox.test", "/init"), new DefaultLastHttpContent(init));
        FullHttpResponse r = response(ch);
        assertEquals(404, r.status().code());
        r.release();
        assertEquals(0, init.refCnt());

        ByteBuf body = bytes("x");
        ch.writeInbound(post("nodots", "/"), new DefaultLastHttpContent(body));
        FullHttpResponse bad = response(ch);
        assertEquals(400, bad.status().code());
        assertTrue(bad.content().toString(StandardCharsets.UTF_8).contains("Invalid host"));
        bad.release();
        assertEquals(0, body.refCnt());
        ch.finishAndReleaseAll();
    }

    @Test
    void bodiesWaitingForRoutingAreReleasedWhenTheClientLeaves() {
        CompletableFuture<SandboxRouter.Resolution> never = new CompletableFuture<>();
        EmbeddedChannel ch = new EmbeddedChannel(new ProxyFrontendHandler((id, port) -> never, "sandbox.test"));
        ByteBuf part = bytes("waiting");
        ch.writeInbound(post("8080-abc.sandbox.test", "/upload"), new DefaultHttpContent(part));
        assertEquals(1, part.refCnt(), "held while the sandbox is being resolved");
        ch.close();
        assertEquals(0, part.refCnt());
        never.complete(new SandboxRouter.Resolution.NotFound());
        ch.runPendingTasks();
        assertNull(ch.readOutbound());
    }

    @Test
    void idleConnectionsCloseOnlyBetweenExchanges() {
        CompletableFuture<SandboxRouter.Resolution> never = new CompletableFuture<>();
        EmbeddedChannel idle = new EmbeddedChannel(new ProxyFrontendHandler((id, port) -> never, "sandbox.test"));
        idle.pipeline().fireUserEventTriggered(io.netty.handler.timeout.IdleStateEvent.ALL_IDLE_STATE_EVENT);
        assertFalse(idle.isOpen(), "no request in progress: closed");

        EmbeddedChannel busy = new EmbeddedChannel(new ProxyFrontendHandler((id, port) -> never, "sandbox.test"));
        busy.writeInbound(post("8080-abc.sandbox.test", "/slow"));
        busy.pipeline().fireUserEventTriggered(io.netty.handler.timeout.IdleStateEvent.ALL_IDLE_STATE_EVENT);
        assertTrue(busy.isOpen(), "an exchange in progress is never timed out");
        busy.finishAndReleaseAll();
    }
}
