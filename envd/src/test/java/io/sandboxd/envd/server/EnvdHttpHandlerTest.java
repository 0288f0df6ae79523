package io.sandboxd.envd.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseDecoder;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.sandboxd.envd.EnvdState;
import io.sandboxd.envd.auth.EnvdAuth;
import io.sandboxd.envd.auth.UserDatabase;
import io.sandboxd.envd.connect.CallContext;
import io.sandboxd.envd.connect.ConnectCode;
import io.sandboxd.envd.connect.ConnectDispatcher;
import io.sandboxd.envd.connect.ConnectException;
import io.sandboxd.envd.connect.ConnectRouter;
import io.sandboxd.envd.connect.StreamSink;
import io.sandboxd.envd.http.HttpResponses;
import io.sandboxd.envd.http.HttpRouter;
import io.sandboxd.envd.proto.process.ListRequest;
import io.sandboxd.envd.proto.process.ListResponse;
import io.sandboxd.envd.proto.process.ProcessEvent;
import io.sandboxd.envd.proto.process.ProcessInfo;
import io.sandboxd.envd.proto.process.StartRequest;
import io.sandboxd.envd.proto.process.StartResponse;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The HTTP + Connect layer on an {@link EmbeddedChannel}: raw request bytes in (split anywhere), raw response bytes
 * out, decoded by a client-side codec. Handlers run inline (the executor is the test thread).
 */
class EnvdHttpHandlerTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;
    private EnvdState state;
    private ConnectRouter router;
    private HttpRouter http;
    private EmbeddedChannel server;
    private final AtomicReference<StreamSink.CloseReason> closeReason = new AtomicReference<>();
    private final List<StreamSink<StartResponse>> openStreams = new ArrayList<>();

    @BeforeEach
    void setUp() throws IOException {
        Files.writeString(dir.resolve("passwd"), "root:x:0:0:root:/root:/bin/bash\nuser:x:1000:1000::/home/user:/bin/bash\n");
        Files.writeString(dir.resolve("group"), "root:x:0:\nuser:x:1000:\n");
        state = new EnvdState("root");
        EnvdAuth auth = new EnvdAuth(state, new UserDatabase(dir.resolve("passwd"), dir.resolve("group")));
        router = new ConnectRouter();
        http = new HttpRouter();
        http.handle(HttpMethod.GET, "/envs", r -> HttpResponses.json(HttpResponseStatus.OK, state.envVars()));
        router.unary("test.Svc", "List", ListRequest.getDefaultInstance(), (ListRequest req, CallContext ctx) ->
                ListResponse.newBuilder().addProcesses(ProcessInfo.newBuilder().setPid(ctx.user().uid() + 7)).build());
        router.unary("test.Svc", "Fail", StartRequest.getDefaultInstance(), (StartRequest req, CallContext ctx) -> {
            String code = req.getProcess().getCmd();
            if (code.equals("boom")) {
                throw new IllegalStateException("handler bug");
            }
            throw new ConnectException(ConnectCode.valueOf(code), "failed with " + code);
        });
        router.serverStream("test.Svc", "Stream", StartRequest.getDefaultInstance(), keepalive(),
                (StartRequest req, CallContext ctx, StreamSink<StartResponse> sink) -> {
                    sink.onClose(closeReason::set);
                    switch (req.getProcess().getCmd()) {
                        case "echo" -> {
                            for (String a : req.getProcess().getArgsList()) {
                                sink.send(start(Integer.parseInt(a)));
                            }
                            sink.complete();
                        }
                        case "fail" -> throw new ConnectException(ConnectCode.NOT_FOUND, "nothing here");
                        case "bug" -> throw new IllegalStateException("handler bug");
                        case "hang" -> openStreams.add(sink);
                        default -> throw new AssertionError(req);
                    }
                });
        ConnectDispatcher dispatcher = new ConnectDispatcher(router, auth, Runnable::run, 4096);
        server = new EmbeddedChannel(new HttpServerCodec(), new EnvdHttpHandler(http, dispatcher, auth, Runnable::run, 4096));
    }

    @AfterEach
    void tearDown() {
        server.finishAndReleaseAll();
    }

    @Test
    void streamRequestSplitAtEveryOffsetGetsEveryFrameAndTheEndStream() throws Exception {
        byte[] request = streamRequest("/test.Svc/Stream", envelope("{\"process\":{\"cmd\":\"echo\",\"args\":[\"1\",\"2\"]}}"), "");
        for (int split = 1; split < request.length; split++) {
            setUp();
            write(request, split);
            List<FullHttpResponse> responses = responses();
            assertEquals(1, responses.size(), "split " + split);
            FullHttpResponse r = responses.getFirst();
            assertEquals(200, r.status().code());
            assertEquals("application/connect+json", r.headers().get(HttpHeaderNames.CONTENT_TYPE));
            List<Frame> frames = frames(r);
            assertEquals(3, frames.size(), "split " + split);
            assertEquals(1, frames.get(0).json().at("/event/start/pid").asInt());
            assertEquals(2, frames.get(1).json().at("/event/start/pid").asInt());
            assertEquals(0x02, frames.get(2).flags());
            assertEquals("{}", frames.get(2).json().toString());
            r.release();
            assertEquals(StreamSink.CloseReason.COMPLETED, closeReason.get());
            server.finishAndReleaseAll();
        }
    }

    @Test
    void streamErrorsGoInTheEndStreamFrameWithStatus200() throws Exception {
        for (String[] c : new String[][] {{"fail", "not_found"}, {"bug", "internal"}}) {
            write(streamRequest("/test.Svc/Stream", envelope("{\"process\":{\"cmd\":\"" + c[0] + "\"}}"), ""), 0);
            FullHttpResponse r = responses().getFirst();
            assertEquals(200, r.status().code());
            List<Frame> frames = frames(r);
            assertEquals(1, frames.size());
            assertEquals(0x02, frames.getFirst().flags());
            assertEquals(c[1], frames.getFirst().json().at("/error/code").asText());
            r.release();
        }
        assertTrue(server.isActive(), "a failing handler never closes the connection");
    }

    @Test
    void badEnvelopesAreInvalidArgument() throws Exception {
        byte[] good = envelope("{\"process\":{\"cmd\":\"echo\"}}");
        byte[][] bodies = {
            java.util.Arrays.copyOf(good, good.length - 1),
            new byte[0],
            concat(good, good),
            withFlags(good, 0x01),
            withFlags(good, 0x02),
            envelope("{\"process\":"),
            envelope("{\"process\":{\"args\":7}}"),
        };
        for (byte[] body : bodies) {
            write(streamRequest("/test.Svc/Stream", body, ""), 0);
            FullHttpResponse r = responses().getFirst();
            assertEquals(200, r.status().code());
            assertEquals("invalid_argument", frames(r).getLast().json().at("/error/code").asText());
            r.release();
        }
        byte[] huge = {0, 0, 0x10, 0, 0};
        write(streamRequest("/test.Svc/Stream", huge, ""), 0);
        FullHttpResponse r = responses().getFirst();
        assertEquals("resource_exhausted", frames(r).getLast().json().at("/error/code").asText());
        r.release();
    }

    @Test
    void unaryErrorsUseTheCodesHttpStatus() throws Exception {
        for (ConnectCode code : ConnectCode.values()) {
            write(unaryRequest("/test.Svc/Fail", "{\"process\":{\"cmd\":\"" + code.name() + "\"}}", ""), 0);
            FullHttpResponse r = responses().getFirst();
            assertEquals(code.httpStatus(), r.status().code(), code.name());
            JsonNode body = JSON.readTree(r.content().toString(StandardCharsets.UTF_8));
            assertEquals(code.wireName(), body.get("code").asText());
            assertEquals("failed with " + code.name(), body.get("message").asText());
            r.release();
        }
        write(unaryRequest("/test.Svc/Fail", "{\"process\":{\"cmd\":\"boom\"}}", ""), 0);
        assertStatus(500, "internal");
        assertTrue(server.isActive());
    }

    @Test
    void badUnaryInputGetsTheRightCode() throws Exception {
        write(unaryRequest("/test.Svc/List", "{not json", ""), 0);
        assertStatus(400, "invalid_argument");
        write(unaryRequest("/test.Svc/Fail", "{\"process\":{\"args\":{\"a\":1}}}", ""), 0);
        assertStatus(400, "invalid_argument");
        write(unaryRequest("/test.Svc/List", "x".repeat(5000), ""), 0);
        assertStatus(429, "resource_exhausted");
        write(unaryRequest("/test.Svc/Missing", "{}", ""), 0);
        assertStatus(404, "unimplemented");
        write(unaryRequest("/test.Svc/List", "{}", "Connect-Timeout-Ms: -5\r\n"), 0);
        assertStatus(400, "invalid_argument");
        String nobody = java.util.Base64.getEncoder().encodeToString("nobody:".getBytes());
        write(unaryRequest("/test.Svc/List", "{}", "Authorization: Basic " + nobody + "\r\n"), 0);
        assertStatus(401, "unauthenticated");
        write(unaryRequest("/test.Svc/List", "{}", "Authorization: Bearer xyz\r\n"), 0);
        assertStatus(401, "unauthenticated");
        write(streamRequest("/test.Svc/List", envelope("{}"), ""), 0);
        assertEquals(415, takeStatus());
        write(unaryRequest("/test.Svc/Stream", "{}", ""), 0);
        assertEquals(415, takeStatus());
    }

    @Test
    void basicAuthSelectsTheUserAndEmptyBodyIsTheEmptyMessage() throws Exception {
        String user = java.util.Base64.getEncoder().encodeToString("user:ignored".getBytes());
        write(unaryRequest("/test.Svc/List", "", "Authorization: Basic " + user + "\r\n"), 0);
        FullHttpResponse r = responses().getFirst();
        assertEquals(200, r.status().code());
        assertEquals("{\"processes\":[{\"pid\":1007}]}", r.content().toString(StandardCharsets.UTF_8));
        r.release();
    }

    @Test
    void deadlineEndsTheStreamWithDeadlineExceeded() throws Exception {
        write(streamRequest("/test.Svc/Stream", envelope("{\"process\":{\"cmd\":\"hang\"}}"), "Connect-Timeout-Ms: 0\r\n"), 0);
        server.runScheduledPendingTasks();
        server.runPendingTasks();
        FullHttpResponse r = responses().getFirst();
        assertEquals("deadline_exceeded", frames(r).getLast().json().at("/error/code").asText());
        r.release();
        assertEquals(StreamSink.CloseReason.DEADLINE, closeReason.get());
        assertTrue(!openStreams.getFirst().send(start(1)), "nothing is sent after the end");
    }

    @Test
    void clientGoingAwayClosesTheStream() throws Exception {
        write(streamRequest("/test.Svc/Stream", envelope("{\"process\":{\"cmd\":\"hang\"}}"), ""), 0);
        StreamSink<StartResponse> sink = openStreams.getFirst();
        assertTrue(sink.send(start(5)));
        server.close();
        server.runPendingTasks();
        assertEquals(StreamSink.CloseReason.CLIENT_GONE, closeReason.get());
        assertTrue(!sink.isOpen());
    }

    @Test
    void pipelinedRequestsAreAnsweredInOrder() throws Exception {
        byte[] a = unaryRequest("/test.Svc/List", "{}", "");
        byte[] b = streamRequest("/test.Svc/Stream", envelope("{\"process\":{\"cmd\":\"echo\",\"args\":[\"9\"]}}"), "");
        byte[] c = "GET /envs HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
        write(concat(concat(a, b), c), 0);
        List<FullHttpResponse> rs = responses();
        assertEquals(3, rs.size());
        assertEquals("application/json", rs.get(0).headers().get(HttpHeaderNames.CONTENT_TYPE));
        assertEquals(9, frames(rs.get(1)).getFirst().json().at("/event/start/pid").asInt());
        assertEquals("{}", rs.get(2).content().toString(StandardCharsets.UTF_8));
        rs.forEach(FullHttpResponse::release);
    }

    @Test
    void accessTokenGuardsEverythingButHealthAndInit() throws Exception {
        state.update(s -> new EnvdState.Settings("secret", s.envVars(), s.defaultUser(), s.defaultWorkdir()));
        write(unaryRequest("/test.Svc/List", "{}", ""), 0);
        FullHttpResponse r = responses().getFirst();
        assertEquals(401, r.status().code());
        assertEquals("{\"code\":401,\"message\":\"unauthorized access, please provide a valid access token or method signing if supported\"}",
                r.content().toString(StandardCharsets.UTF_8));
        r.release();
        write("GET /envs HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII), 0);
        assertEquals(401, takeStatus());
        write(unaryRequest("/test.Svc/List", "{}", "X-Access-Token: secret\r\n"), 0);
        assertEquals(200, takeStatus());
        write("GET /nope HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII), 0);
        assertEquals(404, takeStatus());
    }

    // ---- helpers -----------------------------------------------------------------------------------------------

    record Frame(int flags, JsonNode json) {
    }

    private static StartResponse start(int pid) {
        return StartResponse.newBuilder().setEvent(ProcessEvent.newBuilder()
                .setStart(ProcessEvent.StartEvent.newBuilder().setPid(pid))).build();
    }

    private static StartResponse keepalive() {
        return StartResponse.newBuilder().setEvent(ProcessEvent.newBuilder()
                .setKeepalive(ProcessEvent.KeepAlive.getDefaultInstance())).build();
    }

    private void write(byte[] bytes, int split) {
        if (split > 0 && split < bytes.length) {
            server.writeInbound(Unpooled.wrappedBuffer(bytes, 0, split));
            server.runPendingTasks();
            server.writeInbound(Unpooled.wrappedBuffer(bytes, split, bytes.length - split));
        } else {
            server.writeInbound(Unpooled.wrappedBuffer(bytes));
        }
        server.runPendingTasks();
    }

    private List<FullHttpResponse> responses() {
        server.runPendingTasks();
        EmbeddedChannel client = new EmbeddedChannel(new HttpResponseDecoder(), new HttpObjectAggregator(1 << 20));
        ByteBuf out;
        while ((out = server.readOutbound()) != null) {
            client.writeInbound(out);
        }
        List<FullHttpResponse> rs = new ArrayList<>();
        FullHttpResponse r;
        while ((r = client.readInbound()) != null) {
            rs.add(r);
        }
        client.finishAndReleaseAll();
        return rs;
    }

    private int takeStatus() {
        FullHttpResponse r = responses().getFirst();
        int s = r.status().code();
        r.release();
        return s;
    }

    private void assertStatus(int status, String code) throws IOException {
        FullHttpResponse r = responses().getFirst();
        assertEquals(status, r.status().code());
        assertEquals(code, JSON.readTree(r.content().toString(StandardCharsets.UTF_8)).get("code").asText());
        r.release();
    }

    private static List<Frame> frames(FullHttpResponse r) throws IOException {
        ByteBuf b = r.content().duplicate();
        List<Frame> frames = new ArrayList<>();
        while (b.isReadable()) {
            int flags = b.readUnsignedByte();
            int len = b.readInt();
            frames.add(new Frame(flags, JSON.readTree(b.readSlice(len).toString(StandardCharsets.UTF_8))));
        }
        return frames;
    }

    private static byte[] envelope(String json) {
        byte[] p = json.getBytes(StandardCharsets.UTF_8);
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        o.write(0);
        o.write(p.length >>> 24);
        o.write(p.length >>> 16);
        o.write(p.length >>> 8);
        o.write(p.length);
        o.writeBytes(p);
        return o.toByteArray();
    }

    private static byte[] withFlags(byte[] env, int flags) {
        byte[] c = env.clone();
        c[0] = (byte) flags;
        return c;
    }

    private static byte[] streamRequest(String path, byte[] body, String extraHeaders) {
        return request(path, "application/connect+json", body, extraHeaders);
    }

    private static byte[] unaryRequest(String path, String body, String extraHeaders) {
        return request(path, "application/json", body.getBytes(StandardCharsets.UTF_8), extraHeaders);
    }

    private static byte[] request(String path, String contentType, byte[] body, String extraHeaders) {
        String head = "POST " + path + " HTTP/1.1\r\nHost: envd\r\nContent-Type: " + contentType
                + "\r\nContent-Length: " + body.length + "\r\n" + extraHeaders + "\r\n";
        return concat(head.getBytes(StandardCharsets.US_ASCII), body);
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] c = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }
}
