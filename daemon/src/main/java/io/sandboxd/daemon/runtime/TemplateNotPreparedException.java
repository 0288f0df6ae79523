package io.sandboxd.daemon.runtime;

/** A create named a template this runtime has not prepared (not built, or not on this host). */
public final class TemplateNotPreparedException extends SandboxRuntimeException {
    private static final long serialVersionUID = 1L;

    public TemplateNotPreparedException(String runtime, String templateId) {
        super("template '" + templateId + "' is not prepared on the " + runtime + " runtime");
    }
}
