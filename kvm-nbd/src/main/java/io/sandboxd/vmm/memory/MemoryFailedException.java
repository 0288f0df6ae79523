package io.sandboxd.vmm.memory;

/**
 * Guest memory that can no longer be trusted: its page source failed while serving a fault. The VM using it must
 * be stopped and marked failed; other memories are unaffected.
 */
public final class MemoryFailedException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public MemoryFailedException(String message, Throwable cause) {
        super(message, cause);
    }
}
