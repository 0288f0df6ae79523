package io.sandboxd.layer;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A header's extents flattened into arrays for lookups on hot paths (a page server resolving a fault, an NBD read),
 * computed once per opened image and shared by its readers. Layers are numbered 0..n-1 in {@link #layerIds()} order;
 * {@code -1} marks a zero extent.
 */
public final class ExtentIndex {
    private final long[] starts;
    private final long[] ends;
    private final int[] layers;
    private final long[] offsetsInLayer;
    private final long[] layerIds;
    private final long[] layerBytes;

    public ExtentIndex(LayerHeader h) {
        List<Extent> extents = h.extents();
        int n = extents.size();
        starts = new long[n];
        ends = new long[n];
        layers = new int[n];
        offsetsInLayer = new long[n];
        Map<Long, Integer> index = new LinkedHashMap<>();
        Map<Long, Long> bytes = new LinkedHashMap<>();
        for (int i = 0; i < n; i++) {
            Extent e = extents.get(i);
            starts[i] = e.offset();
            ends[i] = e.end();
            offsetsInLayer[i] = e.offsetInLayer();
            if (e.isZero()) {
                layers[i] = -1;
            } else {
                layers[i] = index.computeIfAbsent(e.layerId(), id -> index.size());
                bytes.merge(e.layerId(), e.offsetInLayer() + e.length(), Math::max);
            }
        }
        layerIds = index.keySet().stream().mapToLong(Long::longValue).toArray();
        layerBytes = index.keySet().stream().mapToLong(bytes::get).toArray();
    }

    /** Index of the extent holding {@code offset} (inside the image). */
    public int find(long offset) {
        int lo = 0;
        int hi = starts.length - 1;
        while (lo < hi) {
            int mid = (lo + hi + 1) >>> 1;
            if (starts[mid] <= offset) {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        return lo;
    }

    public int size() {
        return starts.length;
    }

    public long start(int i) {
        return starts[i];
    }

    public long end(int i) {
        return ends[i];
    }

    /** Layer number of extent {@code i}, or -1 when it is zero. */
    public int layer(int i) {
        return layers[i];
    }

    public long offsetInLayer(int i) {
        return offsetsInLayer[i];
    }

    /** The distinct layers, in the order they first appear. */
    public long[] layerIds() {
        return layerIds.clone();
    }

    public int layerCount() {
        return layerIds.length;
    }

    public long layerId(int layer) {
        return layerIds[layer];
    }

    /** Bytes of layer {@code layer}'s data file that the extents refer to. */
    public long layerBytes(int layer) {
        return layerBytes[layer];
    }
}
