package io.sandboxd.block.nbd;

/** A transmission request header; {@code length} is the unsigned 32-bit length widened to a long. */
public record Request(int flags, int type, long cookie, long offset, long length) {
    /** The request's offset as the client sent it is an unsigned 64-bit number: negative here means >= 2^63. */
    public boolean offsetFitsInLong() {
        return offset >= 0;
    }
}
