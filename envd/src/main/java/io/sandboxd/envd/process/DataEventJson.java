package io.sandboxd.envd.process;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Base64;

/**
 * The canonical JSON of a {@code StartResponse}/{@code ConnectResponse} carrying output,
 * {@code {"event":{"data":{"stdout":"<base64>"}}}}, written straight from the read buffer. Output is the one hot
 * path of the process service (100 MiB of output is 1,600 messages of 87 KB): the generic printer walks
 * descriptors and builds strings, this is one base64 pass. {@code DataEventJsonTest} pins it to JsonFormat.
 */
final class DataEventJson {
    private static final byte[] HEAD = "{\"event\":{\"data\":{\"".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] MID = "\":\"".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] TAIL = "\"}}}".getBytes(StandardCharsets.US_ASCII);
    private static final Base64.Encoder BASE64 = Base64.getEncoder();

    private DataEventJson() {
    }

    /** @param field {@code stdout}, {@code stderr} or {@code pty} */
    static byte[] encode(String field, com.google.protobuf.ByteString data) {
        int n = data.size();
        byte[] name = field.getBytes(StandardCharsets.US_ASCII);
        int b64 = 4 * ((n + 2) / 3);
        byte[] out = new byte[HEAD.length + name.length + MID.length + b64 + TAIL.length];
        int off = 0;
        System.arraycopy(HEAD, 0, out, off, HEAD.length);
        off += HEAD.length;
        System.arraycopy(name, 0, out, off, name.length);
        off += name.length;
        System.arraycopy(MID, 0, out, off, MID.length);
        off += MID.length;
        ByteBuffer encoded = BASE64.encode(data.asReadOnlyByteBuffer());
        encoded.get(out, off, b64);
        off += b64;
        System.arraycopy(TAIL, 0, out, off, TAIL.length);
        return out;
    }
}
