package io.sandboxd.vmm.kvm;

import java.util.List;

/**
 * A whole machine's state: the VM-wide KVM part, one {@link VcpuState} per vCPU in vCPU id order, and the state of
 * each device of the machine (empty for a bare VM).
 */
public record MachineState(VmState vm, List<VcpuState> vcpus, List<DeviceState> devices) {
    public MachineState(VmState vm, List<VcpuState> vcpus) {
        this(vm, vcpus, List.of());
    }

    public MachineState {
        vcpus = List.copyOf(vcpus);
        devices = List.copyOf(devices);
        if (devices.stream().map(DeviceState::name).distinct().count() != devices.size()) {
            throw new IllegalArgumentException("two device states share a name");
        }
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

    public MachineState withDevices(List<DeviceState> deviceStates) {
        return new MachineState(vm, vcpus, deviceStates);
    }

    /** The saved state of the device called {@code name}, if the machine had one. */
    public java.util.Optional<DeviceState> device(String name) {
        return devices.stream().filter(d -> d.name().equals(name)).findFirst();
    }
}
