package io.sandboxd.layer;

/**
 * One run of an image, disk or memory: bytes {@code [offset, offset+length)} of the image are bytes
 * {@code [offsetInLayer, offsetInLayer+length)} of layer {@code layerId}'s data file, or zeros when
 * {@code layerId == ZERO_LAYER} (no layer holds them).
 */
public record Extent(long offset, long length, long layerId, long offsetInLayer) {
    /** The layer id of zero runs; real layer ids are never 0. */
    public static final long ZERO_LAYER = 0;

    public Extent {
        if (offset < 0 || length <= 0 || offsetInLayer < 0 || offset + length < 0 || offsetInLayer + length < 0) {
            throw new IllegalArgumentException("bad extent: offset " + offset + ", length " + length
                    + ", offsetInLayer " + offsetInLayer);
        }
        if (layerId == ZERO_LAYER && offsetInLayer != 0) {
            throw new IllegalArgumentException("zero extent at " + offset + " has an offset in a layer");
        }
    }

    public static Extent zero(long offset, long length) {
        return new Extent(offset, length, ZERO_LAYER, 0);
    }

    public boolean isZero() {
        return layerId == ZERO_LAYER;
    }

    public long end() {
        return offset + length;
    }

    /** True when {@code next} continues this extent in the same layer (or both are zero): they can be one. */
    public boolean joins(Extent next) {
        return next.offset == end() && next.layerId == layerId
                && (isZero() || next.offsetInLayer == offsetInLayer + length);
    }

    /** The part of this extent within {@code [from, to)}; the caller ensures they overlap. */
    public Extent clip(long from, long to) {
        long s = Math.max(offset, from);
        long e = Math.min(end(), to);
        return new Extent(s, e - s, layerId, isZero() ? 0 : offsetInLayer + (s - offset));
    }
}
