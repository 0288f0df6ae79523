package io.sandboxd.block.nbd;

/** The peer broke the protocol in a way that leaves no safe reply: the connection is dropped (hard disconnect). */
public final class NbdProtocolException extends Exception {
    private static final long serialVersionUID = 1L;

    public NbdProtocolException(String message) {
        super(message);
    }
}
