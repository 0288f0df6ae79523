package io.sandboxd.envd.files;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.DateFormatter;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.sandboxd.envd.auth.UserAccount;
import io.sandboxd.envd.http.HttpResponses;
import java.io.IOException;
import java.io.OutputStream;
import java.net.URLConnection;
import java.nio.channels.FileChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Date;
import java.util.Optional;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.zip.Deflater;
import java.util.zip.GZIPOutputStream;

/**
 * {@code GET /files} on a worker thread (spec 3.1): authorises, then streams the file to the client in chunks read
 * here (never on the event loop), each written only when the connection can take it. gzip when
 * {@code Accept-Encoding} selects it; {@code Range} (one byte range) and conditional requests
 * ({@code If-None-Match}, {@code If-Modified-Since}, {@code If-Match}, {@code If-Unmodified-Since},
 * {@code If-Range}) on the identity encoding, as upstream envd does with Go's {@code http.ServeContent}.
 */
final class FileDownload implements Runnable {
    private static final Logger LOG = Logger.getLogger(FileDownload.class.getName());
    static final int CHUNK = 256 << 10;
    /** How much of a file is test-compressed to decide whether gzip is worth it. */
    static final int PROBE_BYTES = 64 << 10;
    /** gzip only when the probe shrinks to at most this fraction: random or already compressed data goes as is. */
    static final double WORTH_IT_RATIO = 0.9;

    private final FilesRoute route;
    private final FilesExchange exchange;

    FileDownload(FilesRoute route, FilesExchange exchange) {
        this.route = route;
        this.exchange = exchange;
    }

    @Override
    public void run() {
        try {
            serve();
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "download failed", e);
            if (!exchange.responding()) {
                exchange.respond(HttpResponses.error(HttpResponseStatus.INTERNAL_SERVER_ERROR,
                        "download failed: " + e));
            } else {
                exchange.abortResponse();
            }
        }
    }

    private void serve() {
        HttpHeaders req = exchange.head().headers();
        String path = exchange.query("path");
        String username = exchange.query("username");
        try {
            FileSignature.check(route.auth.state().accessToken().orElse(null), req.get("X-Access-Token"), path,
                    FileSignature.READ, username, exchange.query("signature"),
                    exchange.query("signature_expiration"), route.clock.instant());
        } catch (FileSignature.Rejected e) {
            exchange.respond(HttpResponses.error(HttpResponseStatus.UNAUTHORIZED, e.getMessage()));
            return;
        }
        Optional<UserAccount> user = route.auth.user(username);
        if (user.isEmpty()) {
            exchange.respond(HttpResponses.error(HttpResponseStatus.UNAUTHORIZED, "error looking up user '"
                    + (username == null || username.isEmpty() ? "(default user)" : username) + "': unknown user"));
            return;
        }
        Path file;
        try {
            String p = path == null ? "" : path;
            if (p.indexOf('\0') >= 0) {
                throw new InvalidPathException(p, "contains a NUL byte");
            }
            file = route.auth.resolvePath(p, user.get());
        } catch (InvalidPathException e) {
            exchange.respond(HttpResponses.error(HttpResponseStatus.BAD_REQUEST,
                    "invalid path '" + path + "': " + e.getReason()));
            return;
        }
        BasicFileAttributes attrs;
        try {
            attrs = Files.readAttributes(file, BasicFileAttributes.class);
        } catch (NoSuchFileException e) {
            exchange.respond(HttpResponses.error(HttpResponseStatus.NOT_FOUND, "path '" + file + "' does not exist"));
            return;
        } catch (IOException e) {
            if (e instanceof java.nio.file.FileSystemLoopException || e.getMessage() != null
                    && e.getMessage().contains("Too many levels of symbolic links")) {
                exchange.respond(HttpResponses.error(HttpResponseStatus.BAD_REQUEST,
                        "path '" + file + "' is a cyclic symlink or a chain of too many links"));
                return;
            }
            exchange.respond(HttpResponses.error(HttpResponseStatus.INTERNAL_SERVER_ERROR,
                    "error checking if path exists '" + file + "': " + e.getMessage()));
            return;
        }
        if (attrs.isDirectory()) {
            exchange.respond(HttpResponses.error(HttpResponseStatus.BAD_REQUEST, "path '" + file + "' is a directory"));
            return;
        }
        Optional<String> coding = AcceptEncoding.negotiate(req.get(HttpHeaderNames.ACCEPT_ENCODING));
        if (coding.isEmpty()) {
            exchange.respond(HttpResponses.error(HttpResponseStatus.NOT_ACCEPTABLE,
                    "no acceptable encoding in Accept-Encoding '" + req.get(HttpHeaderNames.ACCEPT_ENCODING)
                            + "', supported: [gzip, identity]"));
            return;
        }
        try (FileChannel in = FileChannel.open(file, StandardOpenOption.READ)) {
            // Size and time from the open file, so the answer describes what is actually sent.
            long size = in.size();
            long mtimeMillis = Files.getLastModifiedTime(file).toMillis();
            Conditional cond = new Conditional(req, size, mtimeMillis);
            boolean rangeOrConditional = cond.any();
            boolean gzip = coding.get().equals(AcceptEncoding.GZIP) && !rangeOrConditional && compressible(in);
            boolean head = exchange.head().method().equals(HttpMethod.HEAD);
            if (gzip) {
                sendGzip(in, file, head);
            } else {
                sendIdentity(in, file, cond, head);
            }
        } catch (AccessDeniedException e) {
            respondIfNotStarted(HttpResponseStatus.FORBIDDEN, "cannot read '" + file + "': permission denied");
        } catch (IOException e) {
            if (exchange.clientGone()) {
                return;
            }
            if (exchange.responding()) {
                LOG.fine("download of " + file + " cut short: " + e.getMessage());
                exchange.abortResponse();
            } else {
                exchange.respond(HttpResponses.error(HttpResponseStatus.INTERNAL_SERVER_ERROR,
                        "error reading '" + file + "': " + e.getMessage()));
            }
        }
    }

    private void respondIfNotStarted(HttpResponseStatus status, String message) {
        if (!exchange.responding()) {
            exchange.respond(HttpResponses.error(status, message));
        } else {
            exchange.abortResponse();
        }
    }

    private void sendIdentity(FileChannel in, Path file, Conditional cond, boolean head) throws IOException {
        Conditional.Outcome outcome = cond.evaluate();
        if (outcome.status() == HttpResponseStatus.NOT_MODIFIED || outcome.status() == HttpResponseStatus.PRECONDITION_FAILED) {
            FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, outcome.status(), Unpooled.EMPTY_BUFFER);
            cond.validators(r.headers());
            if (outcome.status() == HttpResponseStatus.PRECONDITION_FAILED) {
                r.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, 0);
            }
            exchange.respond(r);
            return;
        }
        if (outcome.status() == HttpResponseStatus.REQUESTED_RANGE_NOT_SATISFIABLE) {
            FullHttpResponse r = HttpResponses.error(outcome.status(), "range not satisfiable: file is "
                    + cond.size() + " bytes");
            r.headers().set(HttpHeaderNames.CONTENT_RANGE, "bytes */" + cond.size());
            exchange.respond(r);
            return;
        }
        HttpResponse r = new DefaultHttpResponse(HttpVersion.HTTP_1_1, outcome.status());
        r.headers().set(HttpHeaderNames.CONTENT_TYPE, contentType(file));
        r.headers().set(HttpHeaderNames.ACCEPT_RANGES, "bytes");
        r.headers().set(HttpHeaderNames.VARY, HttpHeaderNames.ACCEPT_ENCODING);
        cond.validators(r.headers());
        long from = outcome.from();
        long length = outcome.length();
        if (outcome.status() == HttpResponseStatus.PARTIAL_CONTENT) {
            r.headers().set(HttpHeaderNames.CONTENT_RANGE,
                    "bytes " + from + "-" + (from + length - 1) + "/" + cond.size());
        }
        HttpUtil.setContentLength(r, length);
        exchange.writeHead(r);
        if (!head) {
            long pos = from;
            long left = length;
            while (left > 0) {
                int want = (int) Math.min(CHUNK, left);
                ByteBuf buf = exchange.ctx().alloc().directBuffer(want);
                int n;
                try {
                    n = buf.writeBytes(in, pos, want);
                } catch (IOException | RuntimeException e) {
                    buf.release();
                    throw e;
                }
                if (n <= 0) {
                    // the file shrank while being sent: the promised length cannot be met
                    buf.release();
                    throw new IOException("file shrank during the download");
                }
                pos += n;
                left -= n;
                exchange.writeChunk(buf);
            }
        }
        exchange.writeEnd();
    }

    private void sendGzip(FileChannel in, Path file, boolean head) throws IOException {
        HttpResponse r = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
        r.headers().set(HttpHeaderNames.CONTENT_TYPE, contentType(file));
        r.headers().set(HttpHeaderNames.CONTENT_ENCODING, AcceptEncoding.GZIP);
        r.headers().set(HttpHeaderNames.VARY, HttpHeaderNames.ACCEPT_ENCODING);
        if (head) {
            HttpUtil.setTransferEncodingChunked(r, true);
            exchange.writeHead(r);
            exchange.writeEnd();
            return;
        }
        HttpUtil.setTransferEncodingChunked(r, true);
        exchange.writeHead(r);
        try (GZIPOutputStream gz = new FastGzip(new ChunkOutput(exchange))) {
            java.nio.ByteBuffer buf = java.nio.ByteBuffer.allocate(CHUNK);
            while (in.read(buf) > 0) {
                buf.flip();
                gz.write(buf.array(), buf.arrayOffset() + buf.position(), buf.remaining());
                buf.clear();
            }
        }
        exchange.writeEnd();
    }

    /**
     * Whether gzip pays off for this file: its first {@link #PROBE_BYTES} are deflated at the level the download
     * would use. {@code Accept-Encoding} states what the client can take, not a demand (RFC 9110 12.5.3), so a file
     * that does not compress (random data, archives, images) is sent unencoded: compressing it would only cost CPU
     * on both ends (deflate runs at a fraction of the link's speed) and make it slightly bigger. Node's fetch sends
     * {@code Accept-Encoding: gzip, deflate} on every request, so this decides the speed of every SDK download.
     */
    static boolean compressible(FileChannel in) throws IOException {
        java.nio.ByteBuffer probe = java.nio.ByteBuffer.allocate(PROBE_BYTES);
        long pos = 0;
        int n;
        while (probe.hasRemaining() && (n = in.read(probe, pos)) > 0) {
            pos += n;
        }
        probe.flip();
        if (probe.remaining() < 512) {
            return true; // too small to judge; the client asked for gzip, it gets gzip
        }
        Deflater d = new Deflater(Deflater.BEST_SPEED, true);
        try {
            d.setInput(probe.array(), 0, probe.remaining());
            d.finish();
            byte[] out = new byte[PROBE_BYTES + 1024];
            int total = 0;
            while (!d.finished()) {
                total += d.deflate(out);
            }
            return total <= probe.remaining() * WORTH_IT_RATIO;
        } finally {
            d.end();
        }
    }

    static String contentType(Path file) {
        Path name = file.getFileName();
        String t = name == null ? null : URLConnection.guessContentTypeFromName(name.toString());
        return t != null ? t : "application/octet-stream";
    }

    /** gzip at the fastest level: the link, not the ratio, is what a download waits for. */
    private static final class FastGzip extends GZIPOutputStream {
        FastGzip(OutputStream out) throws IOException {
            super(out, CHUNK);
            def.setLevel(Deflater.BEST_SPEED);
        }
    }

    /** Collects compressed bytes into chunks of up to {@link #CHUNK} and writes them at the client's pace. */
    private static final class ChunkOutput extends OutputStream {
        private final FilesExchange exchange;
        private ByteBuf buf;

        ChunkOutput(FilesExchange exchange) {
            this.exchange = exchange;
        }

        @Override
        public void write(int b) throws IOException {
            write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            while (len > 0) {
                if (buf == null) {
                    buf = exchange.ctx().alloc().directBuffer(CHUNK);
                }
                int n = Math.min(len, buf.writableBytes());
                buf.writeBytes(b, off, n);
                off += n;
                len -= n;
                if (!buf.isWritable()) {
                    flush();
                }
            }
        }

        @Override
        public void flush() throws IOException {
            if (buf != null && buf.isReadable()) {
                ByteBuf out = buf;
                buf = null;
                exchange.writeChunk(out);
            }
        }

        @Override
        public void close() throws IOException {
            flush();
            if (buf != null) {
                buf.release();
                buf = null;
            }
        }
    }

    /** RFC 9110 section 13 preconditions and section 14 ranges for one representation (size + mtime). */
    static final class Conditional {
        record Outcome(HttpResponseStatus status, long from, long length) {
        }

        private final HttpHeaders req;
        private final long size;
        private final long mtimeSeconds;
        private final String etag;

        Conditional(HttpHeaders req, long size, long mtimeMillis) {
            this.req = req;
            this.size = size;
            this.mtimeSeconds = Math.floorDiv(mtimeMillis, 1000);
            this.etag = "\"" + Long.toHexString(mtimeMillis) + "-" + Long.toHexString(size) + "\"";
        }

        long size() {
            return size;
        }

        /** True when the request has a range or a precondition: then it is served in identity encoding. */
        boolean any() {
            return req.contains(HttpHeaderNames.RANGE) || req.contains(HttpHeaderNames.IF_MODIFIED_SINCE)
                    || req.contains(HttpHeaderNames.IF_NONE_MATCH) || req.contains(HttpHeaderNames.IF_RANGE)
                    || req.contains(HttpHeaderNames.IF_MATCH) || req.contains(HttpHeaderNames.IF_UNMODIFIED_SINCE);
        }

        void validators(HttpHeaders h) {
            h.set(HttpHeaderNames.LAST_MODIFIED, DateFormatter.format(new Date(mtimeSeconds * 1000)));
            h.set(HttpHeaderNames.ETAG, etag);
        }

        Outcome evaluate() {
            String ifMatch = req.get(HttpHeaderNames.IF_MATCH);
            if (ifMatch != null) {
                if (!matches(ifMatch, false)) {
                    return new Outcome(HttpResponseStatus.PRECONDITION_FAILED, 0, 0);
                }
            } else {
                Long ius = date(req.get(HttpHeaderNames.IF_UNMODIFIED_SINCE));
                if (ius != null && mtimeSeconds > ius) {
                    return new Outcome(HttpResponseStatus.PRECONDITION_FAILED, 0, 0);
                }
            }
            String ifNoneMatch = req.get(HttpHeaderNames.IF_NONE_MATCH);
            if (ifNoneMatch != null) {
                if (matches(ifNoneMatch, true)) {
                    return new Outcome(HttpResponseStatus.NOT_MODIFIED, 0, 0);
                }
            } else {
                Long ims = date(req.get(HttpHeaderNames.IF_MODIFIED_SINCE));
                if (ims != null && mtimeSeconds <= ims) {
                    return new Outcome(HttpResponseStatus.NOT_MODIFIED, 0, 0);
                }
            }
            String range = req.get(HttpHeaderNames.RANGE);
            if (range == null || !ifRangeHolds()) {
                return new Outcome(HttpResponseStatus.OK, 0, size);
            }
            return range(range);
        }

        private boolean ifRangeHolds() {
            String ifRange = req.get(HttpHeaderNames.IF_RANGE);
            if (ifRange == null) {
                return true;
            }
            ifRange = ifRange.trim();
            if (ifRange.startsWith("\"")) {
                return ifRange.equals(etag);
            }
            Long d = date(ifRange);
            return d != null && d == mtimeSeconds;
        }

        /** One {@code bytes=} range; several ranges or a malformed header are ignored (the whole file is sent). */
        private Outcome range(String header) {
            String h = header.trim();
            if (!h.regionMatches(true, 0, "bytes=", 0, 6) || h.indexOf(',') >= 0) {
                return new Outcome(HttpResponseStatus.OK, 0, size);
            }
            String spec = h.substring(6).trim();
            int dash = spec.indexOf('-');
            if (dash < 0) {
                return new Outcome(HttpResponseStatus.OK, 0, size);
            }
            try {
                String a = spec.substring(0, dash).trim();
                String b = spec.substring(dash + 1).trim();
                long from;
                long to;
                if (a.isEmpty()) {
                    long suffix = Long.parseLong(b);
                    if (suffix <= 0) {
                        return new Outcome(HttpResponseStatus.REQUESTED_RANGE_NOT_SATISFIABLE, 0, 0);
                    }
                    from = Math.max(0, size - suffix);
                    to = size - 1;
                } else {
                    from = Long.parseLong(a);
                    to = b.isEmpty() ? size - 1 : Math.min(Long.parseLong(b), size - 1);
                    if (!b.isEmpty() && Long.parseLong(b) < from) {
                        return new Outcome(HttpResponseStatus.OK, 0, size);
                    }
                }
                if (from < 0 || from >= size || to < from) {
                    return new Outcome(HttpResponseStatus.REQUESTED_RANGE_NOT_SATISFIABLE, 0, 0);
                }
                return new Outcome(HttpResponseStatus.PARTIAL_CONTENT, from, to - from + 1);
            } catch (NumberFormatException e) {
                return new Outcome(HttpResponseStatus.OK, 0, size);
            }
        }

        private boolean matches(String header, boolean weak) {
            for (String tag : header.split(",")) {
                String t = tag.trim();
                if (t.equals("*")) {
                    return true;
                }
                if (weak && t.startsWith("W/")) {
                    t = t.substring(2);
                }
                if (t.equals(etag)) {
                    return true;
                }
            }
            return false;
        }

        private static Long date(String value) {
            if (value == null) {
                return null;
            }
            Date d = DateFormatter.parseHttpDate(value);
            return d == null ? null : Math.floorDiv(d.getTime(), 1000);
        }
    }
}
