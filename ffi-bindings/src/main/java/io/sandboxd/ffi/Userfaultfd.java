package io.sandboxd.ffi;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.UnionLayout;

/**
 * {@code <linux/userfaultfd.h>}: the userfaultfd syscall, its ioctls and the structs they take. Every layout and
 * constant is checked against the system headers by {@code UserfaultfdHeadersTest}; ioctl numbers are derived
 * from the struct sizes with {@link Ioctl}.
 *
 * <p>Struct layouts live in one nested class per struct ({@link UffdioCopy#LAYOUT}) with the byte offsets of its
 * members as constants, so a page server can fill a reused segment with plain {@code set(JAVA_LONG, OFFSET, v)}
 * writes and no allocation per fault. The ioctls that a page server issues per fault have {@code Raw} variants
 * (returning {@code -errno}): EEXIST and EAGAIN are normal answers there, not exceptions.
 */
public final class Userfaultfd {
    /** {@code SYS_userfaultfd} on x86-64; glibc has no wrapper. */
    public static final long SYS_userfaultfd = 323;

    public static final int USERFAULTFD_IOC = 0xAA;
    /** {@code ioctl(open("/dev/userfaultfd"), USERFAULTFD_IOC_NEW, flags)} returns a new userfaultfd. */
    public static final long USERFAULTFD_IOC_NEW = Ioctl.io(USERFAULTFD_IOC, 0x00);

    public static final long UFFD_API = 0xAA;
    /** Flag of the syscall: only user-mode faults. Never set by us: KVM's guest-memory accesses are kernel-mode. */
    public static final int UFFD_USER_MODE_ONLY = 1;

    // ---- struct layouts -----------------------------------------------------------------------------------------

    /** {@code struct uffdio_api { __u64 api; __u64 features; __u64 ioctls; }}: the handshake. */
    public static final class UffdioApi {
        public static final StructLayout LAYOUT = MemoryLayout.structLayout(
                JAVA_LONG.withName("api"), JAVA_LONG.withName("features"), JAVA_LONG.withName("ioctls"))
                .withName("uffdio_api");
        public static final long API = 0;
        public static final long FEATURES = 8;
        public static final long IOCTLS = 16;

        private UffdioApi() {
        }
    }

    /** {@code struct uffdio_range { __u64 start; __u64 len; }}: the argument of UFFDIO_WAKE and UFFDIO_UNREGISTER. */
    public static final class UffdioRange {
        public static final StructLayout LAYOUT = MemoryLayout.structLayout(
                JAVA_LONG.withName("start"), JAVA_LONG.withName("len")).withName("uffdio_range");
        public static final long START = 0;
        public static final long LEN = 8;

        private UffdioRange() {
        }
    }

    /** {@code struct uffdio_register { struct uffdio_range range; __u64 mode; __u64 ioctls; }}. */
    public static final class UffdioRegister {
        public static final StructLayout LAYOUT = MemoryLayout.structLayout(
                UffdioRange.LAYOUT.withName("range"), JAVA_LONG.withName("mode"), JAVA_LONG.withName("ioctls"))
                .withName("uffdio_register");
        public static final long RANGE_START = 0;
        public static final long RANGE_LEN = 8;
        public static final long MODE = 16;
        public static final long IOCTLS = 24;

        private UffdioRegister() {
        }
    }

    /** {@code struct uffdio_copy { __u64 dst, src, len, mode; __s64 copy; }}: {@code copy} is written back. */
    public static final class UffdioCopy {
        public static final StructLayout LAYOUT = MemoryLayout.structLayout(
                JAVA_LONG.withName("dst"), JAVA_LONG.withName("src"), JAVA_LONG.withName("len"),
                JAVA_LONG.withName("mode"), JAVA_LONG.withName("copy")).withName("uffdio_copy");
        public static final long DST = 0;
        public static final long SRC = 8;
        public static final long LEN = 16;
        public static final long MODE = 24;
        public static final long COPY = 32;

        private UffdioCopy() {
        }
    }

    /** {@code struct uffdio_zeropage { struct uffdio_range range; __u64 mode; __s64 zeropage; }}. */
    public static final class UffdioZeropage {
        public static final StructLayout LAYOUT = MemoryLayout.structLayout(
                UffdioRange.LAYOUT.withName("range"), JAVA_LONG.withName("mode"), JAVA_LONG.withName("zeropage"))
                .withName("uffdio_zeropage");
        public static final long RANGE_START = 0;
        public static final long RANGE_LEN = 8;
        public static final long MODE = 16;
        public static final long ZEROPAGE = 24;

        private UffdioZeropage() {
        }
    }

    /** {@code struct uffdio_writeprotect { struct uffdio_range range; __u64 mode; }}. */
    public static final class UffdioWriteprotect {
        public static final StructLayout LAYOUT = MemoryLayout.structLayout(
                UffdioRange.LAYOUT.withName("range"), JAVA_LONG.withName("mode")).withName("uffdio_writeprotect");
        public static final long RANGE_START = 0;
        public static final long RANGE_LEN = 8;
        public static final long MODE = 16;

        private UffdioWriteprotect() {
        }
    }

    /**
     * {@code struct uffd_msg} (packed, 32 bytes), what {@code read(uffd)} returns; a flyweight over a batch of them
     * reads fields at {@code i * BYTES + OFFSET}.
     *
     * <pre>
     *  0      1          2          4          8                16               24        32
     *  +------+----------+----------+----------+----------------+----------------+---------+
     *  |event |reserved1 |reserved2 |reserved3 | arg (union, 24 bytes)                      |
     *  +------+----------+----------+----------+----------------+----------------+---------+
     *  pagefault:                              | flags          | address        | ptid    |
     *  fork:                                   | ufd            |
     *  remap:                                  | from           | to             | len     |
     *  remove:                                 | start          | end            |
     * </pre>
     */
    public static final class UffdMsg {
        private static final UnionLayout ARG = MemoryLayout.unionLayout(
                MemoryLayout.structLayout(
                        JAVA_LONG.withName("flags"), JAVA_LONG.withName("address"),
                        MemoryLayout.unionLayout(JAVA_INT.withName("ptid")).withName("feat"),
                        MemoryLayout.paddingLayout(4)).withName("pagefault"),
                MemoryLayout.structLayout(JAVA_INT.withName("ufd")).withName("fork"),
                MemoryLayout.structLayout(
                        JAVA_LONG.withName("from"), JAVA_LONG.withName("to"), JAVA_LONG.withName("len")).withName("remap"),
                MemoryLayout.structLayout(JAVA_LONG.withName("start"), JAVA_LONG.withName("end")).withName("remove"));
        public static final StructLayout LAYOUT = MemoryLayout.structLayout(
                JAVA_BYTE.withName("event"), JAVA_BYTE.withName("reserved1"), JAVA_SHORT.withName("reserved2"),
                JAVA_INT.withName("reserved3"), ARG.withName("arg")).withName("uffd_msg");
        public static final long BYTES = 32;
        public static final long EVENT = 0;
        public static final long PAGEFAULT_FLAGS = 8;
        public static final long PAGEFAULT_ADDRESS = 16;
        public static final long PAGEFAULT_PTID = 24;
        public static final long FORK_UFD = 8;
        public static final long REMAP_FROM = 8;
        public static final long REMAP_TO = 16;
        public static final long REMAP_LEN = 24;
        public static final long REMOVE_START = 8;
        public static final long REMOVE_END = 16;

        private UffdMsg() {
        }
    }

    // ---- ioctl numbers ------------------------------------------------------------------------------------------

    public static final int UFFDIO = 0xAA;
    public static final int _UFFDIO_REGISTER = 0x00;
    public static final int _UFFDIO_UNREGISTER = 0x01;
    public static final int _UFFDIO_WAKE = 0x02;
    public static final int _UFFDIO_COPY = 0x03;
    public static final int _UFFDIO_ZEROPAGE = 0x04;
    public static final int _UFFDIO_WRITEPROTECT = 0x06;
    public static final int _UFFDIO_API = 0x3F;

    public static final long UFFDIO_API = Ioctl.iowr(UFFDIO, _UFFDIO_API, UffdioApi.LAYOUT.byteSize());
    public static final long UFFDIO_REGISTER = Ioctl.iowr(UFFDIO, _UFFDIO_REGISTER, UffdioRegister.LAYOUT.byteSize());
    public static final long UFFDIO_UNREGISTER = Ioctl.ior(UFFDIO, _UFFDIO_UNREGISTER, UffdioRange.LAYOUT.byteSize());
    public static final long UFFDIO_WAKE = Ioctl.ior(UFFDIO, _UFFDIO_WAKE, UffdioRange.LAYOUT.byteSize());
    public static final long UFFDIO_COPY = Ioctl.iowr(UFFDIO, _UFFDIO_COPY, UffdioCopy.LAYOUT.byteSize());
    public static final long UFFDIO_ZEROPAGE = Ioctl.iowr(UFFDIO, _UFFDIO_ZEROPAGE, UffdioZeropage.LAYOUT.byteSize());
    public static final long UFFDIO_WRITEPROTECT =
            Ioctl.iowr(UFFDIO, _UFFDIO_WRITEPROTECT, UffdioWriteprotect.LAYOUT.byteSize());

    // ---- events, flags, features, modes -------------------------------------------------------------------------

    public static final int UFFD_EVENT_PAGEFAULT = 0x12;
    public static final int UFFD_EVENT_FORK = 0x13;
    public static final int UFFD_EVENT_REMAP = 0x14;
    public static final int UFFD_EVENT_REMOVE = 0x15;
    public static final int UFFD_EVENT_UNMAP = 0x16;

    public static final long UFFD_PAGEFAULT_FLAG_WRITE = 1L << 0;
    public static final long UFFD_PAGEFAULT_FLAG_WP = 1L << 1;
    public static final long UFFD_PAGEFAULT_FLAG_MINOR = 1L << 2;

    public static final long UFFD_FEATURE_PAGEFAULT_FLAG_WP = 1L << 0;
    public static final long UFFD_FEATURE_EVENT_FORK = 1L << 1;
    public static final long UFFD_FEATURE_EVENT_REMAP = 1L << 2;
    public static final long UFFD_FEATURE_EVENT_REMOVE = 1L << 3;
    public static final long UFFD_FEATURE_MISSING_HUGETLBFS = 1L << 4;
    public static final long UFFD_FEATURE_MISSING_SHMEM = 1L << 5;
    public static final long UFFD_FEATURE_EVENT_UNMAP = 1L << 6;
    public static final long UFFD_FEATURE_SIGBUS = 1L << 7;
    public static final long UFFD_FEATURE_THREAD_ID = 1L << 8;
    public static final long UFFD_FEATURE_MINOR_HUGETLBFS = 1L << 9;
    public static final long UFFD_FEATURE_MINOR_SHMEM = 1L << 10;
    public static final long UFFD_FEATURE_EXACT_ADDRESS = 1L << 11;
    public static final long UFFD_FEATURE_WP_HUGETLBFS_SHMEM = 1L << 12;

    public static final long UFFDIO_REGISTER_MODE_MISSING = 1L << 0;
    public static final long UFFDIO_REGISTER_MODE_WP = 1L << 1;
    public static final long UFFDIO_REGISTER_MODE_MINOR = 1L << 2;
    public static final long UFFDIO_COPY_MODE_DONTWAKE = 1L << 0;
    public static final long UFFDIO_COPY_MODE_WP = 1L << 1;
    public static final long UFFDIO_ZEROPAGE_MODE_DONTWAKE = 1L << 0;
    public static final long UFFDIO_WRITEPROTECT_MODE_WP = 1L << 0;
    public static final long UFFDIO_WRITEPROTECT_MODE_DONTWAKE = 1L << 1;

    /**
     * {@code madvise} advice (Linux 5.14+) that faults a range in from inside the syscall. Java code must use it
     * before touching userfaultfd-registered memory: a Java thread faulting on such memory waits in the JVM's
     * "in Java" state, which blocks every safepoint; if the page server thread needs that safepoint (it passes one
     * whenever it returns from a native call) the whole JVM deadlocks. Inside madvise the wait is in native state.
     */
    public static final int MADV_POPULATE_READ = 22;
    public static final int MADV_POPULATE_WRITE = 23;

    private static final String DEV_USERFAULTFD = "/dev/userfaultfd";

    private Userfaultfd() {
    }

    // ---- opening ------------------------------------------------------------------------------------------------

    /**
     * A new userfaultfd ({@code flags}: {@link Libc#O_CLOEXEC}, {@link Libc#O_NONBLOCK}). Tries the syscall first;
     * when it is refused (EPERM: {@code vm.unprivileged_userfaultfd=0} without CAP_SYS_PTRACE; ENOSYS: seccomp)
     * falls back to {@code /dev/userfaultfd}, whose file permissions gate it instead (Linux 6.1+).
     */
    public static int open(int flags) {
        long fd = Libc.syscallRaw(SYS_userfaultfd, flags, 0, 0);
        if (fd >= 0) {
            return (int) fd;
        }
        int syscallErrno = (int) -fd;
        int dev;
        try {
            dev = Libc.open(DEV_USERFAULTFD, Libc.O_RDWR | Libc.O_CLOEXEC);
        } catch (NativeException e) {
            throw new NativeException("userfaultfd", syscallErrno,
                    "the syscall was refused and " + DEV_USERFAULTFD + " could not be opened (" + e.errnoName()
                            + "); run as root, or set vm.unprivileged_userfaultfd=1, or grant access to "
                            + DEV_USERFAULTFD);
        }
        try {
            return Libc.ioctl(dev, USERFAULTFD_IOC_NEW, flags, "USERFAULTFD_IOC_NEW");
        } finally {
            Libc.close(dev);
        }
    }

    /**
     * The UFFDIO_API handshake asking for {@code features}; returns the features the kernel enabled. Fails with
     * EINVAL when a requested feature is not supported by this kernel.
     */
    public static long api(int uffd, long features) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(UffdioApi.LAYOUT);
            s.set(JAVA_LONG, UffdioApi.API, UFFD_API);
            s.set(JAVA_LONG, UffdioApi.FEATURES, features);
            Libc.ioctl(uffd, UFFDIO_API, s, "UFFDIO_API");
            return s.get(JAVA_LONG, UffdioApi.FEATURES);
        }
    }

    /**
     * The features this kernel offers, from the handshake of a throwaway userfaultfd (a userfaultfd accepts one
     * UFFDIO_API only, so probing cannot be done on the one that will be used).
     */
    public static long supportedFeatures() {
        int fd = open(Libc.O_CLOEXEC);
        try {
            return api(fd, 0);
        } finally {
            Libc.close(fd);
        }
    }

    /** Registers {@code [start, start+len)}; returns the ioctls the kernel allows on it (bit {@code 1 << _UFFDIO_x}). */
    public static long register(int uffd, long start, long len, long mode) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(UffdioRegister.LAYOUT);
            s.set(JAVA_LONG, UffdioRegister.RANGE_START, start);
            s.set(JAVA_LONG, UffdioRegister.RANGE_LEN, len);
            s.set(JAVA_LONG, UffdioRegister.MODE, mode);
            Libc.ioctl(uffd, UFFDIO_REGISTER, s, "UFFDIO_REGISTER");
            return s.get(JAVA_LONG, UffdioRegister.IOCTLS);
        }
    }

    public static void unregister(int uffd, long start, long len) {
        rangeIoctl(uffd, UFFDIO_UNREGISTER, "UFFDIO_UNREGISTER", start, len);
    }

    /** Wakes the threads waiting on faults in the range (they retry the access). */
    public static void wake(int uffd, long start, long len) {
        rangeIoctl(uffd, UFFDIO_WAKE, "UFFDIO_WAKE", start, len);
    }

    private static void rangeIoctl(int uffd, long request, String name, long start, long len) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(UffdioRange.LAYOUT);
            s.set(JAVA_LONG, UffdioRange.START, start);
            s.set(JAVA_LONG, UffdioRange.LEN, len);
            Libc.ioctl(uffd, request, s, name);
        }
    }

    /**
     * Faults {@code range} in (readable, or writable when {@code write}) from inside {@code madvise}, serving any
     * userfaultfd faults while this thread is in native state (see {@link #MADV_POPULATE_READ}). Retries EINTR.
     */
    public static void populate(MemorySegment range, boolean write) {
        while (true) {
            try {
                Libc.madvise(range, write ? MADV_POPULATE_WRITE : MADV_POPULATE_READ);
                return;
            } catch (NativeException e) {
                if (!e.is(Errno.EINTR) && !e.is(Errno.EAGAIN)) {
                    throw e;
                }
            }
        }
    }

    // ---- per-fault ioctls over caller-owned, reused argument segments ------------------------------------------

    /**
     * UFFDIO_COPY with a caller-owned {@link UffdioCopy#LAYOUT} segment: returns 0, or {@code -errno} (EEXIST: the
     * page is already there; EAGAIN: the mapping is changing, retry later; ESRCH: the process is gone). On a partial
     * copy the kernel reports the bytes done in {@code copy}.
     */
    public static int copyRaw(int uffd, MemorySegment arg, long dst, long src, long len, long mode) {
        arg.set(JAVA_LONG, UffdioCopy.DST, dst);
        arg.set(JAVA_LONG, UffdioCopy.SRC, src);
        arg.set(JAVA_LONG, UffdioCopy.LEN, len);
        arg.set(JAVA_LONG, UffdioCopy.MODE, mode);
        arg.set(JAVA_LONG, UffdioCopy.COPY, 0);
        return Libc.ioctlRaw(uffd, UFFDIO_COPY, arg);
    }

    /** UFFDIO_ZEROPAGE with a caller-owned {@link UffdioZeropage#LAYOUT} segment; 0 or {@code -errno} as for copy. */
    public static int zeropageRaw(int uffd, MemorySegment arg, long start, long len, long mode) {
        arg.set(JAVA_LONG, UffdioZeropage.RANGE_START, start);
        arg.set(JAVA_LONG, UffdioZeropage.RANGE_LEN, len);
        arg.set(JAVA_LONG, UffdioZeropage.MODE, mode);
        arg.set(JAVA_LONG, UffdioZeropage.ZEROPAGE, 0);
        return Libc.ioctlRaw(uffd, UFFDIO_ZEROPAGE, arg);
    }

    /**
     * UFFDIO_WRITEPROTECT with a caller-owned {@link UffdioWriteprotect#LAYOUT} segment: {@code mode} WP protects,
     * 0 unprotects (and wakes the writer unless DONTWAKE). Returns 0 or {@code -errno}.
     */
    public static int writeprotectRaw(int uffd, MemorySegment arg, long start, long len, long mode) {
        arg.set(JAVA_LONG, UffdioWriteprotect.RANGE_START, start);
        arg.set(JAVA_LONG, UffdioWriteprotect.RANGE_LEN, len);
        arg.set(JAVA_LONG, UffdioWriteprotect.MODE, mode);
        return Libc.ioctlRaw(uffd, UFFDIO_WRITEPROTECT, arg);
    }

    /** UFFDIO_WAKE with a caller-owned {@link UffdioRange#LAYOUT} segment; 0 or {@code -errno}. */
    public static int wakeRaw(int uffd, MemorySegment arg, long start, long len) {
        arg.set(JAVA_LONG, UffdioRange.START, start);
        arg.set(JAVA_LONG, UffdioRange.LEN, len);
        return Libc.ioctlRaw(uffd, UFFDIO_WAKE, arg);
    }
}
