package io.sandboxd.envd.connect;

import com.google.protobuf.Message;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.ReadOnlyHttpHeaders;
import io.sandboxd.envd.auth.EnvdAuth;
import io.sandboxd.envd.auth.UserAccount;
import io.sandboxd.envd.http.HttpExchange;
import java.io.ByteArrayOutputStream;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * One Connect request: validates the head (method, procedure, content type, timeout, user), reads the body
 * (bounded; envelopes for streams), then runs the handler on a worker and writes the response.
 *
 * <p>Errors found before the handler runs are answered the way the call's protocol answers errors: unary calls
 * with the code's HTTP status and {@code {"code","message"}}, streams with HTTP 200 and the error in the
 * end-stream frame. Requests that are not a valid Connect call at all (unknown procedure, wrong HTTP method,
 * wrong content type) get plain HTTP statuses, as connect-go does.
 */
final class ConnectCall implements HttpExchange {
    private static final Logger LOG = Logger.getLogger(ConnectCall.class.getName());
    static final String TIMEOUT_HEADER = "Connect-Timeout-Ms";
    static final String KEEPALIVE_HEADER = "Keepalive-Ping-Interval";

    private final ConnectDispatcher dispatcher;
    private final Channel channel;
    private final String path;
    private final ResponseDone done;
    private final boolean keepAlive;
    private final HttpHeaders headers;
    private final long startNanos = System.nanoTime();

    private ConnectRouter.Procedure procedure;
    /** An answer decided from the head alone: a plain HTTP refusal. */
    private FullHttpResponse refusal;
    /** A Connect error decided before the body (bad timeout, unknown user); answered after the body is read. */
    private ConnectException early;
    private long deadlineNanos = Long.MAX_VALUE;
    private UserAccount user;

    private EnvelopeReader envelopes;
    private List<Envelope> received = List.of();
    private ByteArrayOutputStream unaryBody;
    private volatile ConnectServerStream stream;
    private final AtomicBoolean answered = new AtomicBoolean();

    ConnectCall(ConnectDispatcher dispatcher, Channel channel, HttpRequest head, String path, ResponseDone done) {
        this.dispatcher = dispatcher;
        this.channel = channel;
        this.path = path;
        this.done = done;
        this.keepAlive = HttpUtil.isKeepAlive(head);
        this.headers = new ReadOnlyHttpHeaders(true, flatten(head.headers()));
        inspect(head);
    }

    private void inspect(HttpRequest head) {
        procedure = dispatcher.router().find(path).orElse(null);
        if (procedure == null) {
            refusal = unaryError(new ConnectException(ConnectCode.UNIMPLEMENTED, path + " is not implemented"),
                    HttpResponseStatus.NOT_FOUND);
            return;
        }
        if (!HttpMethod.POST.equals(head.method())) {
            refusal = unaryError(new ConnectException(ConnectCode.UNIMPLEMENTED,
                    "HTTP method " + head.method() + " is not supported, use POST"), HttpResponseStatus.METHOD_NOT_ALLOWED);
            refusal.headers().set(HttpHeaderNames.ALLOW, "POST");
            return;
        }
        boolean streaming = procedure instanceof ConnectRouter.ServerStream;
        String contentType = mediaType(head.headers().get(HttpHeaderNames.CONTENT_TYPE));
        String expected = streaming ? ConnectDispatcher.STREAM_CONTENT_TYPE : ConnectDispatcher.UNARY_CONTENT_TYPE;
        if (!expected.equals(contentType)) {
            refusal = unaryError(new ConnectException(ConnectCode.UNKNOWN, "unsupported content type "
                    + contentType + " for " + path + ", expected " + expected), HttpResponseStatus.UNSUPPORTED_MEDIA_TYPE);
            refusal.headers().set("Accept-Post", expected);
            return;
        }
        if (streaming) {
            envelopes = new EnvelopeReader(dispatcher.maxMessageBytes());
        } else {
            unaryBody = new ByteArrayOutputStream();
        }
        try {
            deadlineNanos = parseTimeout(head.headers().get(TIMEOUT_HEADER));
            user = resolveUser(dispatcher.auth(), head.headers().get(HttpHeaderNames.AUTHORIZATION));
        } catch (ConnectException e) {
            early = e;
        }
    }

    @Override
    public void content(ByteBuf chunk) {
        if (refusal != null || early != null) {
            return;
        }
        try {
            if (envelopes != null) {
                List<Envelope> got = envelopes.feed(chunk);
                if (!got.isEmpty()) {
                    received = received.isEmpty() ? got : concat(received, got);
                }
                if (received.size() > 1) {
                    throw new ConnectException(ConnectCode.INVALID_ARGUMENT,
                            "protocol error: a server-streaming call takes exactly one request message");
                }
            } else {
                int n = chunk.readableBytes();
                if ((long) unaryBody.size() + n > dispatcher.maxMessageBytes()) {
                    throw new ConnectException(ConnectCode.RESOURCE_EXHAUSTED,
                            "request body is larger than configured max " + dispatcher.maxMessageBytes());
                }
                unaryBody.writeBytes(io.netty.buffer.ByteBufUtil.getBytes(chunk));
            }
        } catch (ConnectException e) {
            early = e;
            received = List.of();
            unaryBody = null;
        }
    }

    @Override
    public void end() {
        if (refusal != null) {
            answer(refusal);
            return;
        }
        if (procedure instanceof ConnectRouter.ServerStream s) {
            endStream(s);
        } else {
            endUnary((ConnectRouter.Unary) procedure);
        }
    }

    @Override
    public void channelInactive() {
        answered.set(true);
        ConnectServerStream s = stream;
        if (s != null) {
            s.clientGone();
        }
    }

    // ---- server streaming --------------------------------------------------------------------------------------

    private void endStream(ConnectRouter.ServerStream s) {
        long keepaliveNanos = parseKeepalive(headers.get(KEEPALIVE_HEADER));
        ConnectServerStream out = new ConnectServerStream(channel, keepAlive, done, s.keepalive(), keepaliveNanos,
                deadlineNanos);
        stream = out;
        out.start();
        if (early == null) {
            try {
                envelopes.finish();
                if (received.isEmpty()) {
                    throw new ConnectException(ConnectCode.INVALID_ARGUMENT,
                            "protocol error: missing the request message envelope");
                }
                Envelope e = received.getFirst();
                if ((e.flags() & Envelope.FLAG_COMPRESSED) != 0) {
                    throw new ConnectException(ConnectCode.INVALID_ARGUMENT,
                            "protocol error: compressed message, but no Connect-Content-Encoding was negotiated");
                }
                if (e.flags() != 0) {
                    throw new ConnectException(ConnectCode.INVALID_ARGUMENT,
                            "protocol error: unexpected envelope flags 0x" + Integer.toHexString(e.flags()));
                }
            } catch (ConnectException e) {
                early = e;
            }
        }
        if (early != null) {
            out.fail(early);
            return;
        }
        byte[] json = received.getFirst().payload();
        received = List.of();
        CallContext context = new CallContext(path, user, deadlineNanos, headers);
        (s.executor() != null ? s.executor() : dispatcher.workers()).execute(() -> {
            try {
                Message request = ConnectJson.parse(s.requestPrototype(), json);
                s.handler().handle(request, context, out);
            } catch (ConnectException e) {
                out.fail(e);
            } catch (RuntimeException | Error e) {
                LOG.log(Level.WARNING, path + " failed", e);
                out.fail(new ConnectException(ConnectCode.INTERNAL, String.valueOf(e.getMessage())));
            }
        });
    }

    // ---- unary -------------------------------------------------------------------------------------------------

    private void endUnary(ConnectRouter.Unary u) {
        if (early != null) {
            answer(unaryError(early, null));
            return;
        }
        byte[] json = unaryBody.toByteArray();
        unaryBody = null;
        CallContext context = new CallContext(path, user, deadlineNanos, headers);
        if (deadlineNanos != Long.MAX_VALUE) {
            long delay = Math.max(0, deadlineNanos - System.nanoTime());
            channel.eventLoop().schedule(() -> answer(unaryError(new ConnectException(ConnectCode.DEADLINE_EXCEEDED,
                    "the operation timed out (Connect-Timeout-Ms)"), null)), delay, TimeUnit.NANOSECONDS);
        }
        dispatcher.workers().execute(() -> {
            FullHttpResponse response;
            try {
                Message request = ConnectJson.parse(u.requestPrototype(), json);
                Message result = u.handler().handle(request, context);
                byte[] body = ConnectJson.print(result);
                response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK,
                        Unpooled.wrappedBuffer(body));
                response.headers().set(HttpHeaderNames.CONTENT_TYPE, ConnectDispatcher.UNARY_CONTENT_TYPE);
                response.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, body.length);
            } catch (ConnectException e) {
                response = unaryError(e, null);
            } catch (RuntimeException | Error e) {
                LOG.log(Level.WARNING, path + " failed", e);
                response = unaryError(new ConnectException(ConnectCode.INTERNAL, String.valueOf(e.getMessage())), null);
            }
            FullHttpResponse r = response;
            channel.eventLoop().execute(() -> answer(r));
        });
    }

    /** Writes a complete response once: whichever of handler result, deadline or refusal comes first wins. */
    private void answer(FullHttpResponse response) {
        if (!answered.compareAndSet(false, true)) {
            response.release();
            return;
        }
        HttpUtil.setKeepAlive(response, keepAlive);
        channel.writeAndFlush(response).addListener(f -> done.finished(keepAlive && f.isSuccess()));
    }

    static FullHttpResponse unaryError(ConnectException e, HttpResponseStatus statusOrNull) {
        byte[] body = ConnectJson.error(e);
        HttpResponseStatus status = statusOrNull != null ? statusOrNull : HttpResponseStatus.valueOf(e.code().httpStatus());
        FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, Unpooled.wrappedBuffer(body));
        r.headers().set(HttpHeaderNames.CONTENT_TYPE, ConnectDispatcher.UNARY_CONTENT_TYPE);
        r.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, body.length);
        return r;
    }

    // ---- head parsing ------------------------------------------------------------------------------------------

    /** {@code Connect-Timeout-Ms}: 1 to 10 ASCII digits (Connect protocol); absent means no deadline. */
    long parseTimeout(String value) {
        if (value == null) {
            return Long.MAX_VALUE;
        }
        if (value.isEmpty() || value.length() > 10 || !value.chars().allMatch(c -> c >= '0' && c <= '9')) {
            throw new ConnectException(ConnectCode.INVALID_ARGUMENT,
                    "protocol error: invalid " + TIMEOUT_HEADER + " " + value);
        }
        return startNanos + TimeUnit.MILLISECONDS.toNanos(Long.parseLong(value));
    }

    /** {@code Keepalive-Ping-Interval} in seconds; absent or unparsable means the envd default of 90 s. */
    static long parseKeepalive(String value) {
        long seconds = 90;
        if (value != null) {
            try {
                seconds = Long.parseLong(value.trim());
            } catch (NumberFormatException e) {
                seconds = 90;
            }
        }
        return seconds <= 0 ? 0 : TimeUnit.SECONDS.toNanos(Math.min(seconds, 24 * 3600));
    }

    private static UserAccount resolveUser(EnvdAuth auth, String authorization) {
        String name;
        try {
            name = EnvdAuth.basicAuthUser(authorization);
        } catch (IllegalArgumentException e) {
            throw new ConnectException(ConnectCode.UNAUTHENTICATED, e.getMessage());
        }
        return auth.user(name).orElseThrow(() -> new ConnectException(ConnectCode.UNAUTHENTICATED,
                "invalid username: '" + (name == null || name.isEmpty() ? auth.state().defaultUser() : name) + "'"));
    }

    private static String mediaType(String contentType) {
        if (contentType == null) {
            return "";
        }
        int semi = contentType.indexOf(';');
        return (semi < 0 ? contentType : contentType.substring(0, semi)).trim().toLowerCase(java.util.Locale.ROOT);
    }

    private static List<Envelope> concat(List<Envelope> a, List<Envelope> b) {
        List<Envelope> all = new java.util.ArrayList<>(a);
        all.addAll(b);
        return all;
    }

    private static CharSequence[] flatten(HttpHeaders h) {
        CharSequence[] kv = new CharSequence[h.size() * 2];
        int i = 0;
        for (Map.Entry<String, String> e : h) {
            kv[i++] = e.getKey();
            kv[i++] = e.getValue();
        }
        return kv;
    }
}
