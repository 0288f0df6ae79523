package io.sandboxd.api.http;

/**
 * A request that cannot be served, with the HTTP status the client gets and the message of its JSON error body
 * ({@code {"code": status, "message": message}}). Thrown by request parsing and validation inside the API.
 */
public final class HttpError extends RuntimeException {
    private final int status;

    public HttpError(int status, String message) {
        super(message, null, false, false);
        this.status = status;
    }

    public int status() {
        return status;
    }

    public static HttpError badRequest(String message) {
        return new HttpError(400, message);
    }

    public static HttpError unauthorized(String message) {
        return new HttpError(401, message);
    }

    public static HttpError notFound(String message) {
        return new HttpError(404, message);
    }

    public static HttpError notImplemented(String message) {
        return new HttpError(501, message);
    }
}
