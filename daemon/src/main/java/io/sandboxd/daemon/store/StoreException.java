package io.sandboxd.daemon.store;

/** A store operation failed in the database (connection lost, constraint, bad SQL); says which operation. */
public final class StoreException extends RuntimeException {
    public StoreException(String operation, Throwable cause) {
        super(operation + " failed: " + cause.getMessage(), cause);
    }
}
