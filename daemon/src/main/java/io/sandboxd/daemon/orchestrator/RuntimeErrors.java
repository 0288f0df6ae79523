package io.sandboxd.daemon.orchestrator;

import io.sandboxd.api.sandbox.SandboxException;
import io.sandboxd.api.sandbox.SandboxException.Reason;
import io.sandboxd.daemon.envd.EnvdException;
import io.sandboxd.daemon.runtime.CapacityException;
import io.sandboxd.daemon.runtime.TemplateNotPreparedException;
import io.sandboxd.daemon.runtime.UnsupportedRuntimeOperationException;
import io.sandboxd.daemon.store.StoreException;

/**
 * The one mapping from what failed below the orchestrator to what the API answers: no room now is 503, a template
 * the runtime lacks 404, an operation the runtime cannot do 501, the sandbox's agent failing 502, a bad value 400,
 * and a failing host tool or store 500 with the message of what failed, so a client never sees a generic 503.
 */
final class RuntimeErrors {
    private RuntimeErrors() {
    }

    /**
     * @param runtime the runtime's name, for the message
     * @param what    what was being done, e.g. "starting the sandbox"
     */
    static SandboxException map(String runtime, String what, RuntimeException e) {
        return switch (e) {
            case SandboxException s -> s;
            case CapacityException c -> new SandboxException(Reason.BUSY, what + " failed: no capacity on the "
                    + runtime + " runtime now: " + c.getMessage() + "; try again shortly", e);
            case TemplateNotPreparedException t -> new SandboxException(Reason.NOT_FOUND, what + " failed: "
                    + t.getMessage(), e);
            case UnsupportedRuntimeOperationException u -> new SandboxException(Reason.NOT_IMPLEMENTED, u.getMessage(), e);
            case EnvdException a -> new SandboxException(Reason.AGENT_FAILED, what + " failed: the sandbox's agent: "
                    + a.getMessage(), e);
            case IllegalArgumentException i -> SandboxException.invalid(what + " failed: " + i.getMessage());
            case StoreException s -> new SandboxException(Reason.FAILED, what + " failed in the store: "
                    + s.getMessage(), e);
            default -> new SandboxException(Reason.FAILED, what + " failed in the " + runtime + " runtime: "
                    + e.getMessage(), e);
        };
    }
}
