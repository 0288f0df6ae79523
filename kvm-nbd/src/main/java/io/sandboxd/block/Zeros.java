package io.sandboxd.block;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;

/** A shared read-only page of zeros, and the zero test used to turn all-zero writes into holes. */
public final class Zeros {
    public static final int PAGE = 64 * 1024;
    private static final ByteBuffer PAGE_OF_ZEROS = ByteBuffer.allocateDirect(PAGE).asReadOnlyBuffer();
    private static final MemorySegment ZERO_SEGMENT = MemorySegment.ofBuffer(ByteBuffer.allocateDirect(PAGE));

    private Zeros() {
    }

    /** A fresh view of up to {@link #PAGE} zero bytes (read-only; callers advance their own view). */
    public static ByteBuffer view(int length) {
        return PAGE_OF_ZEROS.duplicate().limit(length);
    }

    /** Puts {@code length} zero bytes into {@code dst}. */
    public static void put(ByteBuffer dst, long length) {
        long left = length;
        while (left > 0) {
            int n = (int) Math.min(left, PAGE);
            dst.put(view(n));
            left -= n;
        }
    }

    /**
     * True when every byte of {@code src[position, position+length)} is zero. {@link MemorySegment#mismatch} is
     * vectorised, and random data fails on the first bytes, so the test costs little on real writes.
     */
    public static boolean isZero(ByteBuffer src, int position, int length) {
        if (length >= 8 && src.getLong(position) != 0) {
            return false; // the usual case for real data, decided without creating any view
        }
        MemorySegment s = MemorySegment.ofBuffer(src.duplicate().clear()).asSlice(position, length);
        int done = 0;
        while (done < length) {
            int n = Math.min(length - done, PAGE);
            if (s.asSlice(done, n).mismatch(ZERO_SEGMENT.asSlice(0, n)) != -1) {
                return false;
            }
            done += n;
        }
        return true;
    }
}
