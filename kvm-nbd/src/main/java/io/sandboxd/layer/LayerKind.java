package io.sandboxd.layer;

/**
 * What a layer chain is an image of. Stored in every header so that a memory layer handed to the block layer (or a
 * disk layer handed to a restore) is refused by name instead of being served as garbage.
 */
public enum LayerKind {
    /** A block device image (a rootfs): overlays seal into disk layers. */
    DISK(1),
    /** Guest memory: snapshots write memory layers. */
    MEMORY(2);

    private final int code;

    LayerKind(int code) {
        this.code = code;
    }

    public int code() {
        return code;
    }

    /** The kind stored as {@code code}, or null when no kind has it. */
    public static LayerKind of(int code) {
        for (LayerKind k : values()) {
            if (k.code == code) {
                return k;
            }
        }
        return null;
    }

    public String noun() {
        return this == DISK ? "disk" : "memory";
    }
}
