package io.sandboxd.envd.files;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * A streaming {@code multipart/form-data} reader (RFC 7578 / RFC 2046 5.1): parts are read one at a time and
 * their bodies passed on in pieces, so a 100 MiB file never sits in memory. Memory is one fixed window
 * ({@link #WINDOW} bytes) per request.
 *
 * <pre>
 *   [preamble] CRLF? "--" boundary [padding] CRLF
 *   headers CRLF CRLF body  CRLF "--" boundary [padding] CRLF   (next part)
 *   ...                     CRLF "--" boundary "--" [epilogue]   (end)
 * </pre>
 *
 * The reader logically starts the stream with a CRLF, so every delimiter, the first included, is
 * {@code CRLF--boundary}.
 */
final class MultipartReader {
    static final int WINDOW = 256 << 10;
    static final int MAX_HEADER_BYTES = 16 << 10;
    static final int MAX_BOUNDARY = 70;

    /** Malformed multipart input: answered with 400. */
    static final class MalformedException extends IOException {
        private static final long serialVersionUID = 1L;

        MalformedException(String message) {
            super(message);
        }
    }

    /** One part's headers (names lower-cased) and its form name and file name. */
    record Part(Map<String, String> headers, String name, String filename) {
    }

    /** Receives a part's body, piece by piece. */
    @FunctionalInterface
    interface BodySink {
        void write(byte[] buf, int off, int len) throws IOException;
    }

    private enum State { PREAMBLE, HEADERS, BODY, DONE }

    private final InputStream in;
    private final byte[] delimiter;
    private final byte[] buf = new byte[WINDOW];
    private int start;
    private int end;
    private boolean eof;
    private State state = State.PREAMBLE;

    MultipartReader(InputStream in, String boundary) {
        this.in = in;
        this.delimiter = ("\r\n--" + boundary).getBytes(StandardCharsets.ISO_8859_1);
        buf[0] = '\r';
        buf[1] = '\n';
        end = 2;
    }

    /**
     * The boundary parameter of a {@code multipart/*} Content-Type.
     *
     * @throws MalformedException when it is missing or not a valid boundary
     */
    static String boundary(String contentType) throws MalformedException {
        Map<String, String> params = parameters(contentType);
        String b = params.get("boundary");
        if (b == null || b.isEmpty()) {
            throw new MalformedException("multipart Content-Type without a boundary parameter");
        }
        if (b.length() > MAX_BOUNDARY) {
            throw new MalformedException("multipart boundary longer than " + MAX_BOUNDARY + " characters");
        }
        for (int i = 0; i < b.length(); i++) {
            char c = b.charAt(i);
            if (c < 0x20 || c > 0x7e) {
                throw new MalformedException("multipart boundary has a non-printable character");
            }
        }
        return b;
    }

    /** The next part (its body not read yet), or null after the closing delimiter. */
    Part next() throws IOException {
        if (state == State.BODY) {
            skipBody();
        }
        if (state == State.DONE) {
            return null;
        }
        if (state == State.PREAMBLE) {
            if (!skipToDelimiter()) {
                throw new MalformedException("multipart body has no boundary line");
            }
            if (afterDelimiter()) {
                return null;
            }
        }
        Map<String, String> headers = readHeaders();
        state = State.BODY;
        String disposition = headers.getOrDefault("content-disposition", "");
        Map<String, String> params = parameters(disposition);
        return new Part(headers, params.get("name"), params.containsKey("filename*")
                ? decodeExtended(params.get("filename*")) : params.get("filename"));
    }

    /** Passes the current part's body to {@code sink}. */
    void transferBody(BodySink sink) throws IOException {
        if (state != State.BODY) {
            throw new IllegalStateException("no part body to read");
        }
        int dl = delimiter.length;
        while (true) {
            int at = indexOf(delimiter, start, end);
            if (at >= 0) {
                if (at > start) {
                    sink.write(buf, start, at - start);
                }
                start = at + dl;
                state = State.HEADERS;
                if (afterDelimiter()) {
                    state = State.DONE;
                }
                return;
            }
            // Everything but a tail that could be the start of a delimiter is body.
            int safe = Math.max(start, end - (dl - 1));
            if (safe > start) {
                sink.write(buf, start, safe - start);
                start = safe;
            }
            if (!fill()) {
                throw new MalformedException("multipart body ended inside a part (no closing boundary)");
            }
        }
    }

    /** Reads the rest of the stream (epilogue) so the whole request is consumed. */
    void drainEpilogue() throws IOException {
        start = end = 0;
        byte[] skip = new byte[8192];
        while (in.read(skip) >= 0) {
            // the epilogue carries nothing
        }
        eof = true;
    }

    private void skipBody() throws IOException {
        transferBody((b, o, l) -> { });
    }

    private boolean skipToDelimiter() throws IOException {
        int dl = delimiter.length;
        while (true) {
            int at = indexOf(delimiter, start, end);
            if (at >= 0) {
                start = at + dl;
                return true;
            }
            start = Math.max(start, end - (dl - 1));
            if (end - start > MAX_HEADER_BYTES) {
                start = end - (dl - 1);
            }
            if (!fill()) {
                return false;
            }
        }
    }

    /** After a delimiter: true for the closing {@code --}, else consumes padding and the CRLF. */
    private boolean afterDelimiter() throws IOException {
        while (end - start < 2) {
            if (!fill()) {
                throw new MalformedException("multipart body ended right after a boundary");
            }
        }
        if (buf[start] == '-' && buf[start + 1] == '-') {
            start += 2;
            state = State.DONE;
            return true;
        }
        while (true) {
            while (start < end && (buf[start] == ' ' || buf[start] == '\t')) {
                start++;
            }
            if (end - start >= 2) {
                break;
            }
            if (!fill()) {
                throw new MalformedException("multipart body ended right after a boundary");
            }
        }
        if (buf[start] != '\r' || buf[start + 1] != '\n') {
            throw new MalformedException("multipart boundary line is not followed by CRLF");
        }
        start += 2;
        state = State.HEADERS;
        return false;
    }

    private Map<String, String> readHeaders() throws IOException {
        Map<String, String> headers = new LinkedHashMap<>();
        int used = 0;
        while (true) {
            int eol;
            while ((eol = indexOfCrlf(start, end)) < 0) {
                if (end - start > MAX_HEADER_BYTES) {
                    throw new MalformedException("multipart part headers longer than " + MAX_HEADER_BYTES + " bytes");
                }
                if (!fill()) {
                    throw new MalformedException("multipart body ended inside part headers");
                }
            }
            int len = eol - start;
            used += len + 2;
            if (used > MAX_HEADER_BYTES) {
                throw new MalformedException("multipart part headers longer than " + MAX_HEADER_BYTES + " bytes");
            }
            String line = new String(buf, start, len, StandardCharsets.UTF_8);
            start = eol + 2;
            if (line.isEmpty()) {
                return headers;
            }
            int colon = line.indexOf(':');
            if (colon <= 0) {
                throw new MalformedException("malformed multipart part header line: " + abbreviate(line));
            }
            headers.putIfAbsent(line.substring(0, colon).trim().toLowerCase(Locale.ROOT),
                    line.substring(colon + 1).trim());
        }
    }

    /** Moves unread bytes to the front and reads more; false at end of stream. */
    private boolean fill() throws IOException {
        if (eof) {
            return false;
        }
        if (start > 0) {
            System.arraycopy(buf, start, buf, 0, end - start);
            end -= start;
            start = 0;
        }
        if (end == buf.length) {
            throw new IllegalStateException("multipart window full"); // cannot happen: callers consume first
        }
        int n = in.read(buf, end, buf.length - end);
        if (n < 0) {
            eof = true;
            return false;
        }
        end += n;
        return true;
    }

    private int indexOf(byte[] needle, int from, int to) {
        byte first = needle[0];
        int last = to - needle.length;
        outer:
        for (int i = from; i <= last; i++) {
            if (buf[i] != first) {
                continue;
            }
            for (int j = 1; j < needle.length; j++) {
                if (buf[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }

    private int indexOfCrlf(int from, int to) {
        for (int i = from; i + 1 < to; i++) {
            if (buf[i] == '\r' && buf[i + 1] == '\n') {
                return i;
            }
        }
        return -1;
    }

    /**
     * {@code type/subtype; a=b; c="d"} to a map of lower-cased parameter names; quoted values unquoted
     * (backslash escapes honoured). Browsers and undici percent-encode {@code "} and CR/LF in file names.
     */
    static Map<String, String> parameters(String header) {
        Map<String, String> out = new LinkedHashMap<>();
        if (header == null) {
            return out;
        }
        int i = header.indexOf(';');
        while (i >= 0 && i < header.length()) {
            i++;
            while (i < header.length() && header.charAt(i) == ' ' || i < header.length() && header.charAt(i) == '\t') {
                i++;
            }
            int eq = header.indexOf('=', i);
            int semi = header.indexOf(';', i);
            if (eq < 0 || (semi >= 0 && semi < eq)) {
                i = semi;
                continue;
            }
            String name = header.substring(i, eq).trim().toLowerCase(Locale.ROOT);
            int v = eq + 1;
            String value;
            if (v < header.length() && header.charAt(v) == '"') {
                StringBuilder b = new StringBuilder();
                int k = v + 1;
                while (k < header.length() && header.charAt(k) != '"') {
                    char c = header.charAt(k);
                    if (c == '\\' && k + 1 < header.length()) {
                        k++;
                        c = header.charAt(k);
                    }
                    b.append(c);
                    k++;
                }
                value = b.toString();
                i = header.indexOf(';', k);
            } else {
                int stop = header.indexOf(';', v);
                value = header.substring(v, stop < 0 ? header.length() : stop).trim();
                i = stop;
            }
            out.putIfAbsent(name, value);
        }
        return out;
    }

    /** RFC 5987 {@code UTF-8''percent-encoded}. */
    static String decodeExtended(String value) {
        int q = value.indexOf("''");
        String encoded = q >= 0 ? value.substring(q + 2) : value;
        try {
            return java.net.URLDecoder.decode(encoded.replace("+", "%2B"), StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            return encoded;
        }
    }

    private static String abbreviate(String s) {
        return s.length() > 80 ? s.substring(0, 80) + "..." : s;
    }
}
