package io.sandboxd.daemon.orchestrator.cluster;

import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.sandboxd.api.sandbox.SandboxException;
import io.sandboxd.api.sandbox.SandboxException.Reason;

/**
 * Failures across the node service: a refusal on the node that runs the sandbox travels as a gRPC status with its
 * {@link Reason} in a trailer, so the API node answers exactly what a single host would; a node that cannot be
 * reached becomes a 502 that names it.
 */
final class NodeErrors {
    static final Metadata.Key<String> REASON = Metadata.Key.of("sandboxd-reason", Metadata.ASCII_STRING_MARSHALLER);

    private NodeErrors() {
    }

    static StatusRuntimeException toStatus(SandboxException e) {
        Status status = switch (e.reason()) {
            case INVALID -> Status.INVALID_ARGUMENT;
            case FORBIDDEN -> Status.PERMISSION_DENIED;
            case NOT_FOUND -> Status.NOT_FOUND;
            case CONFLICT -> Status.FAILED_PRECONDITION;
            case RATE_LIMITED -> Status.RESOURCE_EXHAUSTED;
            case NOT_IMPLEMENTED -> Status.UNIMPLEMENTED;
            case AGENT_FAILED, BUSY -> Status.UNAVAILABLE;
            case FAILED -> Status.INTERNAL;
        };
        Metadata trailers = new Metadata();
        trailers.put(REASON, e.reason().name());
        return status.withDescription(e.getMessage()).asRuntimeException(trailers);
    }

    static StatusRuntimeException unexpected(RuntimeException e) {
        return toStatus(new SandboxException(Reason.FAILED, e.getClass().getSimpleName() + ": " + e.getMessage()));
    }

    /**
     * The node did not answer: most often the channel could not connect (refused, no route), so its node service never
     * saw the call. A node that died during the call looks the same; what it made goes with it (its sandboxes are
     * marked lost). A refusal by the service always carries {@link #REASON}.
     */
    static boolean unreachable(StatusRuntimeException e) {
        Metadata trailers = e.getTrailers();
        return e.getStatus().getCode() == Status.Code.UNAVAILABLE && (trailers == null || trailers.get(REASON) == null);
    }

    /** What the API node throws for a failed call to node {@code nodeId}. */
    static SandboxException fromStatus(StatusRuntimeException e, String nodeId, String address) {
        Metadata trailers = e.getTrailers();
        String reason = trailers == null ? null : trailers.get(REASON);
        if (reason != null) {
            try {
                return new SandboxException(Reason.valueOf(reason), e.getStatus().getDescription(), e);
            } catch (IllegalArgumentException unknown) {
                // a newer node's reason: fall through to the generic mapping
            }
        }
        return new SandboxException(Reason.AGENT_FAILED, "node " + nodeId + " (" + address + ") did not answer the "
                + "node service: " + e.getStatus().getCode() + (e.getStatus().getDescription() == null ? ""
                : " " + e.getStatus().getDescription()), e);
    }
}
