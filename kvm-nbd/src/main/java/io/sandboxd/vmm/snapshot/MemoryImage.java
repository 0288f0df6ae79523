package io.sandboxd.vmm.snapshot;

import io.sandboxd.layer.Extent;
import io.sandboxd.layer.ExtentIndex;
import io.sandboxd.layer.LayerFormatException;
import io.sandboxd.layer.LayerHeader;
import io.sandboxd.layer.LayerHeaderCodec;
import io.sandboxd.layer.LayerIds;
import io.sandboxd.layer.LayerKind;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A guest memory image: a chain of layers in one directory, read through its top generation's header.
 *
 * <p>Files, per layer id in 16 hex digits: {@code <id>.layer} (raw block data), {@code <id>.header} (the
 * {@link LayerHeader}, of kind {@link LayerKind#MEMORY}, of the image whose top layer is {@code <id>}; its layer table
 * names the {@code .layer} files) and optionally {@code <id>.workingset} (the
 * order in which a restored guest first touched its pages, see {@code WorkingSet}). A base layer's data file is
 * the full guest size with holes for zero blocks, so {@code offsetInLayer == offset} and it can be mapped
 * directly; a diff layer's data file holds only the blocks written in that generation, back to back.
 *
 * <p>Opening checks that every layer the header names exists and is long enough, so a missing or truncated data
 * file is refused here rather than surfacing as a fault in a running guest.
 */
public final class MemoryImage {
    private final Path dir;
    private final LayerHeader header;
    private volatile ExtentIndex index;

    private MemoryImage(Path dir, LayerHeader header) {
        this.dir = dir;
        this.header = header;
    }

    /** Where the bytes at a guest offset are: a file and offset in it, or zero ({@code file == null}). */
    public record Location(Path file, long offsetInFile, long length) {
        public boolean isZero() {
            return file == null;
        }
    }

    public static MemoryImage open(Path dir, long layerId) throws IOException {
        return open(headerPath(dir, layerId));
    }

    public static MemoryImage open(Path headerFile) throws IOException {
        Path dir = headerFile.toAbsolutePath().getParent();
        LayerHeader h = LayerHeaderCodec.read(headerFile, LayerKind.MEMORY);
        MemoryImage image = new MemoryImage(dir, h);
        ExtentIndex index = image.index();
        for (int layer = 0; layer < index.layerCount(); layer++) {
            long id = index.layerId(layer);
            Path data = image.layerPath(id);
            if (!Files.isRegularFile(data)) {
                throw new LayerFormatException(headerFile, "layer " + hex(id) + " is missing: no " + data);
            }
            long need = index.layerBytes(layer);
            long have = Files.size(data);
            if (have < need) {
                throw new LayerFormatException(data, "truncated: " + have + " bytes, the header needs " + need);
            }
        }
        return image;
    }

    static MemoryImage of(Path dir, LayerHeader header) {
        return new MemoryImage(dir, header);
    }

    public LayerHeader header() {
        return header;
    }

    public Path directory() {
        return dir;
    }

    public long size() {
        return header.size();
    }

    public long generation() {
        return header.generation();
    }

    public long layerId() {
        return header.layerId();
    }

    public Path headerPath() {
        return headerPath(dir, header.layerId());
    }

    /** The data file of layer {@code id}, as this image's header names it. */
    public Path layerPath(long id) {
        return header.layerPath(dir, id);
    }

    /** Where the recorded working set of this image lives (it may not exist). */
    public Path workingSetPath() {
        return dir.resolve(hex(header.layerId()) + ".workingset");
    }

    static Path headerPath(Path dir, long id) {
        return dir.resolve(hex(id) + ".header");
    }

    static String hex(long id) {
        return LayerIds.hex(id);
    }

    /** The distinct layers this image reads from, in the order they first appear. */
    public List<Long> layerIds() {
        List<Long> ids = new ArrayList<>();
        for (long id : index().layerIds()) {
            ids.add(id);
        }
        return ids;
    }

    /** The extents as arrays, built on first use and kept: every restore of this image shares it. */
    public ExtentIndex index() {
        ExtentIndex i = index;
        if (i == null) {
            i = new ExtentIndex(header);
            index = i;
        }
        return i;
    }

    /** The resolver: where guest offset {@code offset} lives, and how many bytes from there stay in that run. */
    public Location resolve(long offset) {
        Extent e = header.extents().get(header.find(offset));
        long into = offset - e.offset();
        long left = e.length() - into;
        return e.isZero() ? new Location(null, 0, left) : new Location(layerPath(e.layerId()), e.offsetInLayer() + into, left);
    }

    /** The generation-1 header this chain grew from (walks the parent links; one file per generation). */
    public LayerHeader baseHeader() throws IOException {
        LayerHeader h = header;
        for (int hops = 0; h.generation() > 1; hops++) {
            if (hops > 1_000_000) {
                throw new LayerFormatException(headerPath(), "parent chain does not end");
            }
            LayerHeader parent = LayerHeaderCodec.read(headerPath(dir, h.parentLayerId()), LayerKind.MEMORY);
            if (parent.generation() != h.generation() - 1 || parent.size() != h.size()
                    || parent.layerId() != h.parentLayerId()) {
                throw new LayerFormatException(headerPath(dir, h.parentLayerId()), "generation "
                        + parent.generation() + " of size " + parent.size() + " is not the parent of generation "
                        + h.generation() + " of size " + h.size());
            }
            h = parent;
        }
        return h;
    }

    @Override
    public String toString() {
        return "MemoryImage[" + headerPath() + ", generation " + generation() + ", " + size() + " bytes, "
                + header.extents().size() + " ranges]";
    }
}
