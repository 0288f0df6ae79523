package io.sandboxd.daemon.cli.admin;

/** The daemon answered with an error status; its {@code {"code","message"}} body gives the message. */
public final class ApiException extends AdminException {
    private static final long serialVersionUID = 1L;

    private final int status;

    ApiException(int status, String message) {
        super(exitCodeOf(status), message);
        this.status = status;
    }

    public int status() {
        return status;
    }

    static int exitCodeOf(int status) {
        if (status == 401 || status == 403) {
            return ExitCode.AUTH;
        }
        if (status == 404) {
            return ExitCode.NOT_FOUND;
        }
        if (status == 501) {
            return ExitCode.NOT_IMPLEMENTED;
        }
        if (status >= 400 && status < 500) {
            return ExitCode.REFUSED;
        }
        return ExitCode.SERVER_ERROR;
    }
}
