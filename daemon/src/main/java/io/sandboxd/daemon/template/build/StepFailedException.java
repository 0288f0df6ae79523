package io.sandboxd.daemon.template.build;

/** A build step that could not be done; {@link #step()} is the step's name as the SDK counts ("base", "1", …). */
public final class StepFailedException extends RuntimeException {
    private final String step;

    public StepFailedException(String step, String message) {
        super(message);
        this.step = step;
    }

    public String step() {
        return step;
    }
}
