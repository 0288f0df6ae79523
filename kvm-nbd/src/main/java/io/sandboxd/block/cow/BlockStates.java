package io.sandboxd.block.cow;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * The overlay's block bitmap in memory: two bits per block ({@link #BASE}, {@link #DATA}, {@link #ZERO}), 32 blocks
 * per {@code long}, updated with CAS so connections write different blocks without a lock. Each word change marks
 * its bitmap page dirty; {@link OverlayMap} persists dirty pages on flush.
 *
 * <p>The word layout is the on-disk layout (little-endian longs), so persisting a page is a copy.
 */
final class BlockStates {
    /** The block is not in the overlay: read the base. */
    static final int BASE = 0;
    /** The block's bytes are in the overlay file at the same offset. */
    static final int DATA = 1;
    /** The block reads as zeros; the overlay file has a hole there (or stale bytes nobody reads). */
    static final int ZERO = 2;

    static final int BLOCKS_PER_WORD = 32;
    /** Bitmap bytes per persisted page: 4 KiB of bitmap covers 16384 blocks (64 MiB of image). */
    static final int PAGE_BYTES = 4096;
    static final int WORDS_PER_PAGE = PAGE_BYTES / 8;

    private static final VarHandle WORD = MethodHandles.arrayElementVarHandle(long[].class);

    private final long blocks;
    private final long[] words;
    private final long[] dirtyPages;

    BlockStates(long blocks) {
        if (blocks > (long) Integer.MAX_VALUE * BLOCKS_PER_WORD / 2) {
            throw new IllegalArgumentException(blocks + " blocks do not fit one in-memory bitmap");
        }
        this.blocks = blocks;
        int pages = pageCount(blocks);
        this.words = new long[pages * WORDS_PER_PAGE];
        this.dirtyPages = new long[(pages + 63) / 64];
    }

    static int pageCount(long blocks) {
        long words = (blocks + BLOCKS_PER_WORD - 1) / BLOCKS_PER_WORD;
        return (int) Math.max(1, (words + WORDS_PER_PAGE - 1) / WORDS_PER_PAGE);
    }

    long blocks() {
        return blocks;
    }

    int pages() {
        return words.length / WORDS_PER_PAGE;
    }

    int get(long block) {
        long w = (long) WORD.getAcquire(words, (int) (block >>> 5));
        return (int) (w >>> ((block & 31) * 2)) & 3;
    }

    /** Sets one block's state; the caller has already made the block's bytes what the state says. */
    void set(long block, int state) {
        int wi = (int) (block >>> 5);
        int shift = (int) (block & 31) * 2;
        long mask = 3L << shift;
        long want = ((long) state << shift);
        long old = (long) WORD.getVolatile(words, wi);
        while ((old & mask) != want) {
            long witness = (long) WORD.compareAndExchange(words, wi, old, (old & ~mask) | want);
            if (witness == old) {
                markDirty(wi / WORDS_PER_PAGE);
                return;
            }
            old = witness;
        }
    }

    /** Sets blocks {@code [first, first+count)}. */
    void setRange(long first, long count, int state) {
        for (long b = first; b < first + count; b++) {
            set(b, state);
        }
    }

    /** The number of blocks from {@code first} (at most {@code max}) that share {@code first}'s state. */
    long runLength(long first, long max) {
        int s = get(first);
        long uniform = s == BASE ? 0L : s == DATA ? 0x5555_5555_5555_5555L : 0xAAAA_AAAA_AAAA_AAAAL;
        long n = 1;
        while (n < max) {
            long b = first + n;
            if ((b & 31) == 0 && max - n >= 32 && (long) WORD.getAcquire(words, (int) (b >>> 5)) == uniform) {
                n += 32;
                continue;
            }
            if (get(b) != s) {
                break;
            }
            n++;
        }
        return n;
    }

    private void markDirty(int page) {
        long bit = 1L << (page & 63);
        if (((long) WORD.getAcquire(dirtyPages, page >>> 6) & bit) == 0) {
            WORD.getAndBitwiseOr(dirtyPages, page >>> 6, bit);
        }
    }

    /** Clears and returns whether {@code page} was dirty: call before copying the page. */
    boolean takeDirty(int page) {
        long bit = 1L << (page & 63);
        return ((long) WORD.getAndBitwiseAnd(dirtyPages, page >>> 6, ~bit) & bit) != 0;
    }

    void markAllDirty() {
        for (int p = 0; p < pages(); p++) {
            markDirty(p);
        }
    }

    /** Copies page {@code page} into {@code dst} (little-endian longs, the on-disk layout). */
    void copyPage(int page, java.nio.ByteBuffer dst) {
        java.nio.LongBuffer lb = dst.order(java.nio.ByteOrder.LITTLE_ENDIAN).asLongBuffer();
        int base = page * WORDS_PER_PAGE;
        for (int i = 0; i < WORDS_PER_PAGE; i++) {
            lb.put(i, (long) WORD.getAcquire(words, base + i));
        }
    }

    /** Loads page {@code page} from its on-disk bytes; only used while opening (no concurrency). */
    void loadPage(int page, java.nio.ByteBuffer src) {
        java.nio.LongBuffer lb = src.order(java.nio.ByteOrder.LITTLE_ENDIAN).asLongBuffer();
        int base = page * WORDS_PER_PAGE;
        for (int i = 0; i < WORDS_PER_PAGE; i++) {
            words[base + i] = lb.get(i);
        }
    }

    /** Rejects bit pairs that are not a state (11) and bits past the last block. */
    String validate() {
        for (int wi = 0; wi < words.length; wi++) {
            long w = words[wi];
            if ((w & (w >>> 1) & 0x5555_5555_5555_5555L) != 0) {
                return "invalid block state 3 in bitmap word " + wi;
            }
            long firstBlock = (long) wi * BLOCKS_PER_WORD;
            if (firstBlock + BLOCKS_PER_WORD > blocks && w != 0) {
                long valid = blocks - firstBlock;
                if (valid <= 0 || (w >>> (valid * 2)) != 0) {
                    return "bitmap marks blocks past the end of the image (word " + wi + ")";
                }
            }
        }
        return null;
    }
}
