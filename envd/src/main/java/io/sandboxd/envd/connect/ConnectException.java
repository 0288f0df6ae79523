package io.sandboxd.envd.connect;

/**
 * A Connect error a handler reports to the client: unary calls answer with {@link ConnectCode#httpStatus()} and
 * {@code {"code","message"}}; streams put it in the end-stream frame.
 */
public final class ConnectException extends RuntimeException {
    private final ConnectCode code;

    public ConnectException(ConnectCode code, String message) {
        super(message, null, false, false);
        this.code = code;
    }

    public ConnectException(ConnectCode code, String message, Throwable cause) {
        super(message, cause, false, false);
        this.code = code;
    }

    public ConnectCode code() {
        return code;
    }

    @Override
    public String toString() {
        return code.wireName() + ": " + getMessage();
    }
}
