package io.sandboxd.envd.connect;

import java.util.Locale;

/**
 * Connect error codes with the HTTP status a unary error response carries (spec 3.3). The wire name is the
 * lower snake_case of the constant.
 */
public enum ConnectCode {
    CANCELED(499),
    UNKNOWN(500),
    INVALID_ARGUMENT(400),
    DEADLINE_EXCEEDED(504),
    NOT_FOUND(404),
    ALREADY_EXISTS(409),
    PERMISSION_DENIED(403),
    RESOURCE_EXHAUSTED(429),
    FAILED_PRECONDITION(400),
    ABORTED(409),
    OUT_OF_RANGE(400),
    UNIMPLEMENTED(501),
    INTERNAL(500),
    UNAVAILABLE(503),
    DATA_LOSS(500),
    UNAUTHENTICATED(401);

    private final int httpStatus;
    private final String wireName;

    ConnectCode(int httpStatus) {
        this.httpStatus = httpStatus;
        this.wireName = name().toLowerCase(Locale.ROOT);
    }

    public int httpStatus() {
        return httpStatus;
    }

    /** The name in {@code {"code": "..."}}, e.g. {@code invalid_argument}. */
    public String wireName() {
        return wireName;
    }
}
