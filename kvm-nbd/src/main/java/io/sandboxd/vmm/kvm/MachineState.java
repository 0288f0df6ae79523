package io.sandboxd.vmm.kvm;

import java.util.List;

/** A whole machine's KVM state: the VM-wide part and one {@link VcpuState} per vCPU, in vCPU id order. */
public record MachineState(VmState vm, List<VcpuState> vcpus) {
    public MachineState {
        vcpus = List.copyOf(vcpus);
        if (vcpus.isEmpty()) {
            throw new IllegalArgumentException("a machine state needs at least one vCPU");
        }
        for (int i = 0; i < vcpus.size(); i++) {
            if (vcpus.get(i).id() != i) {
                throw new IllegalArgumentException("vCPU states must be numbered 0..n-1 in order; #" + i + " has id "
                        + vcpus.get(i).id());
            }
        }
    }
}
