package io.sandboxd.vmm.snapshot;

/**
 * Where one run of guest memory lives: bytes {@code [offset, offset+length)} of guest memory are bytes
 * {@code [offsetInLayer, offsetInLayer+length)} of layer {@code layerId}'s data file, or zero when
 * {@code layerId == ZERO_LAYER} (no layer holds them).
 */
public record Extent(long offset, long length, long layerId, long offsetInLayer) {
    /** The layer id of zero ranges; real layer ids are never 0. */
    public static final long ZERO_LAYER = 0;

    public Extent {
        if (offset < 0 || length <= 0 || offsetInLayer < 0) {
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
    boolean joins(Extent next) {
        return next.offset == end() && next.layerId == layerId
                && (isZero() || next.offsetInLayer == offsetInLayer + length);
    }
}
