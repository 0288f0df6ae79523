package io.sandboxd.daemon.cli.admin;

/**
 * The exit codes of the admin commands ({@code sandbox}, {@code template}, {@code install}, {@code uninstall}), one
 * per kind of failure so scripts can tell them apart. The README's "Admin CLI" table lists them; {@code keys} uses
 * the same 4 (not found) and 5 (its store failed).
 */
public final class ExitCode {
    public static final int OK = 0;
    /** An install step failed, or something unexpected (the message says what). */
    public static final int FAILED = 1;
    /** Bad options or arguments (picocli's own code). */
    public static final int USAGE = 2;
    /** The daemon's API (or, for install, systemd) is not there: connection refused, no answer in time. */
    public static final int UNREACHABLE = 3;
    public static final int NOT_FOUND = 4;
    /** The daemon answered 5xx (other than 501) or something that is not its API. */
    public static final int SERVER_ERROR = 5;
    /** No API key, or the daemon refused it (401/403). */
    public static final int AUTH = 6;
    /** The daemon does not implement this yet (501), or the CLI cannot do it (template builds). */
    public static final int NOT_IMPLEMENTED = 7;
    /** The daemon refused the request as asked: 400, 409 (wrong state), 429 and other 4xx. */
    public static final int REFUSED = 8;

    private ExitCode() {
    }
}
