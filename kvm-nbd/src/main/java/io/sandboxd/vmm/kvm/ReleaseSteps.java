package io.sandboxd.vmm.kvm;

/**
 * Runs the steps that release a VM's fds and mappings to the end even when one of them fails (a vCPU that fails to
 * close must not leave the VM fd open), keeping the first failure to report once every step has run.
 */
public final class ReleaseSteps {
    private RuntimeException first;

    public void run(Runnable step) {
        try {
            step.run();
        } catch (RuntimeException e) {
            if (first == null) {
                first = e;
            }
        }
    }

    /** The first step's failure; null while every step has succeeded. */
    public RuntimeException firstFailure() {
        return first;
    }

    /** Throws the first step's failure, if there was one. */
    public void throwFirstFailure() {
        if (first != null) {
            throw first;
        }
    }
}
