package io.sandboxd.api.http;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.CombinedChannelDuplexHandler;
import io.netty.handler.codec.DecoderResult;
import io.netty.handler.codec.TooLongFrameException;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpRequestDecoder;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseEncoder;
import io.netty.handler.codec.http.HttpStatusClass;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import java.util.ArrayDeque;
import java.util.List;
import java.util.Queue;

/**
 * Netty's HTTP/1.1 server codec with the request framing the API and the proxy accept made strict. A request whose
 * body length two parties could read differently (the shapes of request smuggling) is marked as a decoder failure
 * instead of being guessed at: both Content-Length and Transfer-Encoding, a Transfer-Encoding other than exactly
 * {@code chunked}, Transfer-Encoding on HTTP/1.0, a protocol other than HTTP/1.0 and 1.1, and (RFC 9112 3.2) a
 * missing or repeated Host. (Netty itself rejects repeated or non-numeric lengths, bad chunk sizes and, with strict
 * line parsing, bare CR or LF line ends in the head.) Callers answer a failed request with {@link #statusOf} and
 * {@link #describe}, and close the connection.
 */
public final class StrictHttpServerCodec extends CombinedChannelDuplexHandler<HttpRequestDecoder, HttpResponseEncoder> {
    /** Netty's defaults: 4 KiB request line, 8 KiB of headers. */
    public static final int MAX_INITIAL_LINE = 4096;
    public static final int MAX_HEADER_BYTES = 8192;

    /** A request Netty parsed but that must not be served: the status says why. */
    public static final class Refused extends IllegalArgumentException {
        private static final long serialVersionUID = 1L;
        private final int status;

        Refused(int status, String message) {
            super(message, null);
            this.status = status;
        }

        public int status() {
            return status;
        }
    }

    /** Methods of the requests in flight, oldest first: the encoder needs them for HEAD and CONNECT answers. */
    private final Queue<HttpMethod> methods = new ArrayDeque<>();

    public StrictHttpServerCodec() {
        HttpDecoderConfig config = new HttpDecoderConfig().setMaxInitialLineLength(MAX_INITIAL_LINE)
                .setMaxHeaderSize(MAX_HEADER_BYTES).setValidateHeaders(true).setStrictLineParsing(true);
        init(new Decoder(config), new Encoder());
    }

    /** The HTTP status for a request whose decoding failed with {@code cause}. */
    public static int statusOf(Throwable cause) {
        return switch (cause) {
            case Refused r -> r.status();
            case TooLongHttpHeaderException t -> 431;
            case TooLongHttpLineException t -> 414;
            case TooLongFrameException t -> 400;
            case null, default -> 400;
        };
    }

    /** The message for a request whose decoding failed with {@code cause}, to go with {@link #statusOf}. */
    public static String describe(Throwable cause) {
        String why = cause == null || cause.getMessage() == null ? "malformed request" : cause.getMessage();
        return switch (statusOf(cause)) {
            case 431 -> "Request header fields are too large (at most " + MAX_HEADER_BYTES + " bytes): " + why;
            case 414 -> "Request line is too long (at most " + MAX_INITIAL_LINE + " bytes): " + why;
            case 505 -> why;
            default -> "Bad HTTP request: " + why;
        };
    }

    /** Why a request head that Netty accepted must still be refused, or null when its framing is unambiguous. */
    static Refused framingProblem(HttpRequest request) {
        HttpVersion v = request.protocolVersion();
        if (!v.protocolName().equals("HTTP") || v.majorVersion() != 1 || v.minorVersion() > 1) {
            return new Refused(505, "HTTP version " + v.text() + " is not supported (HTTP/1.1 or HTTP/1.0)");
        }
        int hosts = request.headers().getAll(HttpHeaderNames.HOST).size();
        if (hosts > 1) {
            // RFC 9112 3.2: which one a server behind us would route by is anybody's guess.
            return new Refused(400, "a request must carry one Host header, this one has " + hosts);
        }
        if (hosts == 0 && v.minorVersion() == 1) {
            return new Refused(400, "an HTTP/1.1 request must carry a Host header");
        }
        List<String> te = request.headers().getAll(HttpHeaderNames.TRANSFER_ENCODING);
        if (te.isEmpty()) {
            return null;
        }
        if (v.minorVersion() == 0) {
            return new Refused(400, "Transfer-Encoding is not allowed in an HTTP/1.0 request");
        }
        if (te.size() != 1 || !HttpHeaderValues.CHUNKED.contentEqualsIgnoreCase(te.getFirst().strip())) {
            return new Refused(400, "Transfer-Encoding must be exactly 'chunked', got '" + String.join(", ", te) + "'");
        }
        if (request.headers().contains(HttpHeaderNames.CONTENT_LENGTH)) {
            return new Refused(400, "a request must not carry both Content-Length and Transfer-Encoding");
        }
        return null;
    }

    private final class Decoder extends HttpRequestDecoder {
        Decoder(HttpDecoderConfig config) {
            super(config);
        }

        @Override
        protected void decode(ChannelHandlerContext ctx, ByteBuf buffer, List<Object> out) throws Exception {
            int before = out.size();
            super.decode(ctx, buffer, out);
            for (int i = before; i < out.size(); i++) {
                if (out.get(i) instanceof HttpRequest request) {
                    methods.add(request.method());
                    if (request.decoderResult().isSuccess()) {
                        Refused problem = framingProblem(request);
                        if (problem != null) {
                            request.setDecoderResult(DecoderResult.failure(problem));
                        }
                    }
                }
            }
        }

        /** Netty drops Content-Length and trusts the chunking; two framings in one request is refused here instead. */
        @Override
        protected void handleTransferEncodingChunkedWithContentLength(HttpMessage message) {
            throw new Refused(400, "a request must not carry both Content-Length and Transfer-Encoding");
        }
    }

    private final class Encoder extends HttpResponseEncoder {
        private HttpMethod method;

        @Override
        protected boolean isContentAlwaysEmpty(HttpResponse msg) {
            method = methods.poll();
            return HttpMethod.HEAD.equals(method) || super.isContentAlwaysEmpty(msg);
        }

        @Override
        protected void sanitizeHeadersBeforeEncode(HttpResponse msg, boolean isAlwaysEmpty) {
            if (!isAlwaysEmpty && HttpMethod.CONNECT.equals(method)
                    && msg.status().codeClass() == HttpStatusClass.SUCCESS) {
                // A successful CONNECT answer has no body framing: the connection becomes a tunnel.
                msg.headers().remove(HttpHeaderNames.TRANSFER_ENCODING);
                return;
            }
            super.sanitizeHeadersBeforeEncode(msg, isAlwaysEmpty);
        }
    }
}
