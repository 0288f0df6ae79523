package io.sandboxd.vmm.kvm;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/** The {@code fill_pages.c} test guest: what it touches and what it must report. */
public final class FillPagesGuest {
    /** Pages it fills, from {@link #FILL}. */
    public static final int PAGES = 16;
    public static final long FILL = 0x400000;

    private FillPagesGuest() {
    }

    public static byte[] compile() throws IOException, InterruptedException {
        return GuestCompiler.compile("fill_pages.c");
    }

    /** Its serial output, computed here the same way: one checksum per page, then one of everything read back. */
    public static byte[] expectedOutput() {
        ByteBuffer out = ByteBuffer.allocate(4 * (PAGES + 1)).order(ByteOrder.LITTLE_ENDIAN);
        long[] mem = new long[PAGES * 512];
        for (long p = 0; p < PAGES; p++) {
            long sum = 0;
            for (long i = 0; i < 512; i++) {
                long v = (p * 0x9E3779B97F4A7C15L) ^ (i * 0xBF58476D1CE4E5B9L);
                mem[(int) (p * 512 + i)] = v;
                sum += v * (i + 1);
            }
            out.putInt((int) (sum ^ (sum >>> 32)));
        }
        long total = 0;
        for (long v : mem) {
            total = Long.rotateLeft(total, 1) ^ v;
        }
        out.putInt((int) (total ^ (total >>> 32)));
        return out.array();
    }
}
