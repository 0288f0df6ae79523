package io.sandboxd.block.nbd;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;

/**
 * A transport playing back a fixed client byte stream in pieces, like Netty's EmbeddedChannel: reads return at most
 * up to the next piece boundary, so a test can split the input anywhere. Everything written is collected.
 */
final class ScriptedTransport implements Transport {
    private final byte[] input;
    private final int[] boundaries;
    private int at;
    private int nextBoundary;
    final ByteArrayOutputStream written = new ByteArrayOutputStream();
    boolean closed;

    /** Delivers {@code input} split at the given ascending offsets. */
    ScriptedTransport(byte[] input, int... boundaries) {
        this.input = input;
        this.boundaries = boundaries;
    }

    /** Delivers {@code input} {@code chunk} bytes per read. */
    static ScriptedTransport chunked(byte[] input, int chunk) {
        int n = (input.length + chunk - 1) / chunk;
        int[] b = new int[n];
        for (int i = 0; i < n; i++) {
            b[i] = Math.min(input.length, (i + 1) * chunk);
        }
        return new ScriptedTransport(input, b);
    }

    @Override
    public int read(ByteBuffer dst) {
        if (at >= input.length) {
            return -1;
        }
        while (nextBoundary < boundaries.length && boundaries[nextBoundary] <= at) {
            nextBoundary++;
        }
        int end = nextBoundary < boundaries.length ? boundaries[nextBoundary] : input.length;
        int n = Math.min(dst.remaining(), end - at);
        dst.put(input, at, n);
        at += n;
        return n;
    }

    @Override
    public void write(ByteBuffer src) {
        byte[] b = new byte[src.remaining()];
        src.get(b);
        written.writeBytes(b);
    }

    @Override
    public void close() {
        closed = true;
    }
}
