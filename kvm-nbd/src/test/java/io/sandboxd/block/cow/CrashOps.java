package io.sandboxd.block.cow;

import java.util.Random;

/** The deterministic write/trim sequence the crash test's child performs and the parent replays. */
record CrashOps(long seed, int imageSize) {
    static final int FLUSH_EVERY = 10;

    record Op(boolean trim, int offset, byte[] data, int length) {
    }

    Op op(int i) {
        Random r = new Random(seed * 1_000_003L + i);
        boolean trim = r.nextInt(8) == 0;
        int length = 1 + r.nextInt(64 << 10);
        int offset = r.nextInt(imageSize - length);
        byte[] data = null;
        if (!trim) {
            data = new byte[length];
            r.nextBytes(data);
            if (r.nextInt(6) == 0) {
                data = new byte[length]; // all-zero writes become holes
            }
        }
        return new Op(trim, offset, data, length);
    }
}
