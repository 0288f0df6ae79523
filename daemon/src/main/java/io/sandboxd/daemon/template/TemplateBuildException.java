package io.sandboxd.daemon.template;

/** A template could not be built: the message names the step (debootstrap, a missing tool) and what it said. */
public class TemplateBuildException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public TemplateBuildException(String message) {
        super(message);
    }

    public TemplateBuildException(String message, Throwable cause) {
        super(message, cause);
    }
}
