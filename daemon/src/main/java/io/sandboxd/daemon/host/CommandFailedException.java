package io.sandboxd.daemon.host;

/** A host tool exited non-zero; the message carries the command line and what the tool printed on stderr. */
public final class CommandFailedException extends HostException {
    private static final long serialVersionUID = 1L;

    private final transient HostCommand.Result result;

    public CommandFailedException(HostCommand.Result result) {
        super(String.join(" ", result.argv()) + " failed with exit code " + result.exitCode() + ": "
                + firstNonBlank(result.stderr(), result.stdout()));
        this.result = result;
    }

    public HostCommand.Result result() {
        return result;
    }

    /** What the tool said on stderr, trimmed. */
    public String stderr() {
        return result.stderr().strip();
    }

    private static String firstNonBlank(String a, String b) {
        String s = a.isBlank() ? b : a;
        s = s.strip();
        return s.isEmpty() ? "(no output)" : s;
    }
}
