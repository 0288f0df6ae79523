package io.sandboxd.api.volume;

/** The owner and mode a write or mkdir asks for; null parts take the volume's defaults. */
public record Ownership(Integer uid, Integer gid, Integer mode) {
    public static final Ownership DEFAULT = new Ownership(null, null, null);
}
