package io.sandboxd.daemon.volume;

/** A volume file operation that cannot be done, with the kind of refusal the API turns into a status. */
public final class VolumePathException extends RuntimeException {
    public enum Kind {
        /** Nothing at that path (or a parent of it is missing). */
        NOT_FOUND,
        /** A path that is not allowed ({@code ..}, too long), runs through a file or link, or names the wrong type. */
        INVALID,
        /** The entry exists where it must not, or a directory is not empty. */
        CONFLICT,
        /** The host failed (an I/O error, the volume's directory is gone). */
        FAILED
    }

    private final Kind kind;

    public VolumePathException(Kind kind, String message) {
        super(message);
        this.kind = kind;
    }

    public VolumePathException(Kind kind, String message, Throwable cause) {
        super(message, cause);
        this.kind = kind;
    }

    public Kind kind() {
        return kind;
    }
}
