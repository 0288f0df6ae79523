package io.sandboxd.vmm.kvm;

import io.sandboxd.ffi.Errno;
import io.sandboxd.ffi.Kvm;
import io.sandboxd.ffi.Libc;
import io.sandboxd.ffi.NativeException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * The open {@code /dev/kvm}: capability queries, system-wide lists (supported CPUID, MSR indices) and VM creation.
 * One per process is enough; it owns its fd and closes it in {@link #close()} (VMs keep working after that: each
 * holds its own fd).
 */
public final class KvmSystem implements AutoCloseable {
    public static final Path DEVICE = Path.of("/dev/kvm");
    /** Enough for any CPU we run on: KVM reports E2BIG when it is not, and we retry larger. */
    private static final int INITIAL_CPUID_ENTRIES = 128;

    private final int fd;
    private final int vcpuMmapSize;
    private final byte[] supportedCpuid;
    private volatile boolean closed;

    private KvmSystem(int fd) {
        this.fd = fd;
        int version = Libc.ioctl(fd, Kvm.KVM_GET_API_VERSION, 0L, "KVM_GET_API_VERSION");
        if (version != Kvm.KVM_API_VERSION) {
            throw new IllegalStateException("/dev/kvm speaks KVM API version " + version + ", sandboxd needs "
                    + Kvm.KVM_API_VERSION);
        }
        for (int cap : new int[] {Kvm.KVM_CAP_IRQCHIP, Kvm.KVM_CAP_USER_MEMORY, Kvm.KVM_CAP_IMMEDIATE_EXIT,
            Kvm.KVM_CAP_PIT2, Kvm.KVM_CAP_PIT_STATE2, Kvm.KVM_CAP_VCPU_EVENTS, Kvm.KVM_CAP_XSAVE, Kvm.KVM_CAP_XCRS,
            Kvm.KVM_CAP_DEBUGREGS, Kvm.KVM_CAP_ADJUST_CLOCK, Kvm.KVM_CAP_MP_STATE, Kvm.KVM_CAP_EXT_CPUID}) {
            if (checkExtension(cap) <= 0) {
                throw new IllegalStateException("this kernel's KVM lacks capability " + cap
                        + " (see <linux/kvm.h> KVM_CAP_*), which sandboxd needs to save and restore VMs");
            }
        }
        this.vcpuMmapSize = Libc.ioctl(fd, Kvm.KVM_GET_VCPU_MMAP_SIZE, 0L, "KVM_GET_VCPU_MMAP_SIZE");
        this.supportedCpuid = readSupportedCpuid();
    }

    /** Opens /dev/kvm, or explains what to do when it cannot be opened. */
    public static KvmSystem open() {
        int fd;
        try {
            fd = Libc.open(DEVICE.toString(), Libc.O_RDWR | Libc.O_CLOEXEC);
        } catch (NativeException e) {
            String hint = switch (e.errno()) {
                case Errno.ENOENT -> "/dev/kvm does not exist: load kvm_intel/kvm_amd (or run on a host with "
                        + "virtualization enabled), or use the jail runtime";
                case Errno.EACCES, Errno.EPERM -> "/dev/kvm is not readable and writable by this user: run as root "
                        + "or add the user to the kvm group";
                default -> "cannot open /dev/kvm";
            };
            throw new NativeException("open(/dev/kvm)", e.errno(), hint);
        }
        try {
            return new KvmSystem(fd);
        } catch (RuntimeException e) {
            Libc.close(fd);
            throw e;
        }
    }

    /** Why KVM cannot be used here, or empty when it can (for tests to skip with a reason, and for doctor). */
    public static Optional<String> unavailableReason() {
        if (!Files.exists(DEVICE)) {
            return Optional.of(DEVICE + " does not exist (no KVM on this host)");
        }
        try (KvmSystem kvm = open()) {
            return Optional.empty();
        } catch (RuntimeException e) {
            return Optional.of(e.getMessage());
        }
    }

    public int fd() {
        return fd;
    }

    /** KVM_CHECK_EXTENSION on /dev/kvm: 0 when absent, else 1 or a capability-specific value. */
    public int checkExtension(int capability) {
        return Libc.ioctl(fd, Kvm.KVM_CHECK_EXTENSION, capability, "KVM_CHECK_EXTENSION");
    }

    int vcpuMmapSize() {
        return vcpuMmapSize;
    }

    /** The {@code kvm_cpuid2} bytes from KVM_GET_SUPPORTED_CPUID: what a vCPU here may be told it has. */
    public byte[] supportedCpuid() {
        return supportedCpuid.clone();
    }

    private byte[] readSupportedCpuid() {
        for (int n = INITIAL_CPUID_ENTRIES; ; n *= 2) {
            try (Arena a = Arena.ofConfined()) {
                MemorySegment buf = a.allocate(Kvm.cpuid2Size(n), 8);
                buf.set(ValueLayout.JAVA_INT, 0, n);
                int r = Libc.ioctlRaw(fd, Kvm.KVM_GET_SUPPORTED_CPUID, buf);
                if (r == -Errno.E2BIG && n < 4096) {
                    continue;
                }
                if (r < 0) {
                    throw new NativeException("ioctl(KVM_GET_SUPPORTED_CPUID)", -r);
                }
                int nent = buf.get(ValueLayout.JAVA_INT, 0);
                return buf.asSlice(0, Kvm.cpuid2Size(nent)).toArray(ValueLayout.JAVA_BYTE);
            }
        }
    }

    /** KVM_GET_MSR_INDEX_LIST: every MSR index KVM knows how to save (not all are accepted by every vCPU). */
    public int[] msrIndexList() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment probe = a.allocate(Kvm.msrListSize(0), 4);
            int r = Libc.ioctlRaw(fd, Kvm.KVM_GET_MSR_INDEX_LIST, probe); // nmsrs = 0: KVM answers E2BIG + the count
            int n = probe.get(ValueLayout.JAVA_INT, 0);
            if (r < 0 && r != -Errno.E2BIG) {
                throw new NativeException("ioctl(KVM_GET_MSR_INDEX_LIST)", -r);
            }
            MemorySegment list = a.allocate(Kvm.msrListSize(n), 4);
            list.set(ValueLayout.JAVA_INT, 0, n);
            Libc.ioctl(fd, Kvm.KVM_GET_MSR_INDEX_LIST, list, "KVM_GET_MSR_INDEX_LIST");
            n = list.get(ValueLayout.JAVA_INT, 0);
            return list.asSlice(Kvm.kvm_msr_list.byteSize(), 4L * n).toArray(ValueLayout.JAVA_INT);
        }
    }

    private volatile int[] saveableMsrs;

    /**
     * The MSRs a snapshot saves: KVM_GET_MSR_INDEX_LIST filtered to those KVM_GET_MSRS accepts on a vCPU of this
     * host (the list names MSRs that only some CPU models or configurations have, and KVM_GET_MSRS stops at the
     * first it refuses). Worked out once per process with the first vCPU that asks.
     */
    int[] saveableMsrs(Vcpu probe) {
        int[] cached = saveableMsrs;
        if (cached == null) {
            int[] all = msrIndexList();
            cached = java.util.Arrays.stream(all).filter(i -> probe.readableMsrCount(new int[] {i}) == 1).toArray();
            saveableMsrs = cached;
        }
        return cached;
    }

    /** Creates a VM (its own fd; see {@link Vm}). */
    public Vm createVm() {
        if (closed) {
            throw new IllegalStateException("KvmSystem is closed");
        }
        return Vm.create(this);
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            Libc.close(fd);
        }
    }
}
