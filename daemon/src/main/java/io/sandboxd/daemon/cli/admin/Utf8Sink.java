package io.sandboxd.daemon.cli.admin;

import java.io.PrintWriter;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/**
 * Writes a process's output bytes to a writer as they arrive: a UTF-8 character split across two data events is
 * held until its second half comes, so streamed output is never garbled at chunk boundaries.
 */
final class Utf8Sink {
    private final PrintWriter out;
    private final CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder()
            .onMalformedInput(CodingErrorAction.REPLACE).onUnmappableCharacter(CodingErrorAction.REPLACE);
    private ByteBuffer pending = ByteBuffer.allocate(0);
    private final StringBuilder all = new StringBuilder();

    Utf8Sink(PrintWriter out) {
        this.out = out;
    }

    void write(byte[] bytes) {
        ByteBuffer in = ByteBuffer.allocate(pending.remaining() + bytes.length).put(pending).put(bytes).flip();
        CharBuffer chars = CharBuffer.allocate(in.remaining() + 1);
        decoder.decode(in, chars, false);
        pending = in.slice();
        emit(chars.flip());
    }

    /** Flushes a trailing incomplete character (as U+FFFD) at the end of the stream. */
    void finish() {
        CharBuffer chars = CharBuffer.allocate(pending.remaining() + 2);
        decoder.decode(pending, chars, true);
        decoder.flush(chars);
        pending = ByteBuffer.allocate(0);
        emit(chars.flip());
    }

    /** Everything written, for the JSON output. */
    String text() {
        return all.toString();
    }

    private void emit(CharBuffer chars) {
        if (chars.hasRemaining()) {
            String s = chars.toString();
            all.append(s);
            if (out != null) {
                out.print(s);
                out.flush();
            }
        }
    }
}
