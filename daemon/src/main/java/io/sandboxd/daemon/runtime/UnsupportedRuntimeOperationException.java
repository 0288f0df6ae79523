package io.sandboxd.daemon.runtime;

/** The operation exists in the API but this runtime cannot do it (for example a snapshot in the jail runtime). */
public final class UnsupportedRuntimeOperationException extends SandboxRuntimeException {
    private static final long serialVersionUID = 1L;

    private final String operation;

    public UnsupportedRuntimeOperationException(String runtime, String operation, String why) {
        super(operation + " is not supported by the " + runtime + " runtime: " + why);
        this.operation = operation;
    }

    public String operation() {
        return operation;
    }
}
