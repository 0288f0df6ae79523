/**
 * KVM as objects named after the fds they wrap: {@link io.sandboxd.vmm.kvm.KvmSystem} ({@code /dev/kvm}),
 * {@link io.sandboxd.vmm.kvm.Vm} (a VM fd: memory slots, irqchip, PIT, VM-wide state) and
 * {@link io.sandboxd.vmm.kvm.Vcpu} (a vCPU fd and its kvm_run page: one KVM_RUN at a time, exits as the sealed
 * {@link io.sandboxd.vmm.kvm.VcpuExit}, registers and state). {@link io.sandboxd.vmm.kvm.VcpuThread} is the run
 * loop on a platform thread with pause/resume/stop by kick. The state of each stateful part is a plain-data record
 * next to it ({@link io.sandboxd.vmm.kvm.VmState}, {@link io.sandboxd.vmm.kvm.VcpuState}) with
 * {@link io.sandboxd.vmm.kvm.MachineStateCodec} as its file format.
 *
 * <p>Only {@code io.sandboxd.ffi} talks to native code; this package builds on its {@code Kvm}, {@code Libc} and
 * {@code Signals} bindings.
 */
package io.sandboxd.vmm.kvm;
