package io.sandboxd.daemon.cli.admin;

/**
 * A failure an admin command reports as one line and an {@link ExitCode}. Commands throw it; the root command's
 * {@link AdminExceptionHandler} prints it, so every command fails the same way.
 */
public class AdminException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final int exitCode;

    public AdminException(int exitCode, String message) {
        super(message);
        this.exitCode = exitCode;
    }

    public AdminException(int exitCode, String message, Throwable cause) {
        super(message, cause);
        this.exitCode = exitCode;
    }

    public int exitCode() {
        return exitCode;
    }
}
