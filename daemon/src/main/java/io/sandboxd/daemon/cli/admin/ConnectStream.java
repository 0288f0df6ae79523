package io.sandboxd.daemon.cli.admin;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;

/**
 * Connect's server-streaming framing (spec 3.3): envelopes of {@code [flags u8][length u32 BE][JSON]}, the last
 * one flagged {@code 0x02} (end of stream) carrying {@code {}} or {@code {"error":{"code","message"}}}.
 */
final class ConnectStream {
    static final int FLAG_COMPRESSED = 0x01;
    static final int FLAG_END_STREAM = 0x02;
    /** A message larger than this is not envd's (its output events are a few KiB). */
    static final int MAX_MESSAGE = 16 << 20;

    /** One envelope: a message, or the end of the stream. */
    record Frame(boolean end, JsonNode json) {}

    private final DataInputStream in;

    ConnectStream(InputStream in) {
        this.in = new DataInputStream(in);
    }

    /** The request body of a streaming call: one uncompressed envelope around {@code json}. */
    static byte[] envelope(byte[] json) {
        return ByteBuffer.allocate(5 + json.length).put((byte) 0).putInt(json.length).put(json).array();
    }

    /** The next frame, or null when the stream ended without an end-of-stream frame. */
    Frame next() throws IOException {
        int flags = in.read();
        if (flags < 0) {
            return null;
        }
        int length;
        byte[] payload;
        try {
            length = in.readInt();
            if (length < 0 || length > MAX_MESSAGE) {
                throw new IOException("a Connect envelope of " + Integer.toUnsignedString(length) + " bytes");
            }
            payload = in.readNBytes(length);
            if (payload.length < length) {
                throw new EOFException();
            }
        } catch (EOFException e) {
            throw new IOException("the stream was cut inside an envelope");
        }
        if ((flags & FLAG_COMPRESSED) != 0) {
            throw new IOException("a compressed Connect envelope (none was asked for)");
        }
        JsonNode json = length == 0 ? ApiClient.JSON.createObjectNode() : ApiClient.JSON.readTree(payload);
        return new Frame((flags & FLAG_END_STREAM) != 0, json);
    }
}
