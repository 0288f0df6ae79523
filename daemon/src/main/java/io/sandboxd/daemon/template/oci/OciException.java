package io.sandboxd.daemon.template.oci;

/** An image could not be pulled or unpacked; the message names the image, the registry call and what it said. */
public final class OciException extends RuntimeException {
    public OciException(String message) {
        super(message);
    }

    public OciException(String message, Throwable cause) {
        super(message, cause);
    }
}
