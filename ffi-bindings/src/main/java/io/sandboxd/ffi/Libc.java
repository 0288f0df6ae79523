package io.sandboxd.ffi;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;

/**
 * glibc: files, pipes, ioctl, memory mappings, memfd, eventfd, poll, cross-process memory reads and the raw
 * {@code syscall}. Each function has one
 * handle built at class initialisation; each call captures errno and a failure throws {@link NativeException}
 * naming the function. Constants are checked against the system headers by {@code LibcHeadersTest}.
 *
 * <p>Hot paths that expect failures (EAGAIN, EEXIST in a uffd server) use the {@code Raw} variants, which return
 * {@code -errno} instead of allocating an exception.
 */
public final class Libc {
    // <fcntl.h>
    public static final int O_RDONLY = 0;
    public static final int O_WRONLY = 1;
    public static final int O_RDWR = 2;
    public static final int O_CREAT = 0100;
    public static final int O_EXCL = 0200;
    public static final int O_NOCTTY = 0400;
    public static final int O_TRUNC = 01000;
    public static final int O_APPEND = 02000;
    public static final int O_NONBLOCK = 04000;
    public static final int O_DIRECTORY = 0200000;
    public static final int O_CLOEXEC = 02000000;
    public static final int O_NOFOLLOW = 0400000;
    /** A handle that names a place in the tree and can anchor {@code *at} calls, without opening the file itself. */
    public static final int O_PATH = 010000000;
    /** The {@code dirfd} of {@code *at} calls that means the current directory. */
    public static final int AT_FDCWD = -100;

    // <sys/mman.h>
    public static final int PROT_NONE = 0;
    public static final int PROT_READ = 1;
    public static final int PROT_WRITE = 2;
    public static final int PROT_EXEC = 4;
    public static final int MAP_SHARED = 0x01;
    public static final int MAP_PRIVATE = 0x02;
    public static final int MAP_FIXED = 0x10;
    public static final int MAP_ANONYMOUS = 0x20;
    public static final int MAP_NORESERVE = 0x4000;
    public static final int MAP_POPULATE = 0x8000;
    public static final int MADV_DONTNEED = 4;
    public static final int MADV_REMOVE = 9;
    public static final int MADV_DONTFORK = 10;
    public static final int MADV_HUGEPAGE = 14;
    public static final int MADV_NOHUGEPAGE = 15;
    public static final int MFD_CLOEXEC = 1;
    public static final int MFD_ALLOW_SEALING = 2;

    // <sys/eventfd.h>
    public static final int EFD_SEMAPHORE = 1;
    public static final int EFD_NONBLOCK = O_NONBLOCK;
    public static final int EFD_CLOEXEC = O_CLOEXEC;

    // <linux/falloc.h>
    public static final int FALLOC_FL_KEEP_SIZE = 0x01;
    public static final int FALLOC_FL_PUNCH_HOLE = 0x02;
    public static final int FALLOC_FL_ZERO_RANGE = 0x10;

    // <poll.h>
    public static final short POLLIN = 0x001;
    public static final short POLLOUT = 0x004;
    public static final short POLLERR = 0x008;
    public static final short POLLHUP = 0x010;
    public static final short POLLNVAL = 0x020;

    /** {@code MAP_FAILED}, i.e. {@code (void *) -1}. */
    public static final long MAP_FAILED = -1L;

    /** {@code struct iovec { void *iov_base; size_t iov_len; }}: scatter/gather lists (process_vm_readv, msghdr). */
    public static final StructLayout IOVEC = MemoryLayout.structLayout(
            ADDRESS.withName("iov_base"),
            JAVA_LONG.withName("iov_len")).withName("iovec");
    private static final long IOV_BASE = IOVEC.byteOffset(MemoryLayout.PathElement.groupElement("iov_base"));
    private static final long IOV_LEN = IOVEC.byteOffset(MemoryLayout.PathElement.groupElement("iov_len"));

    private static final MethodHandle OPEN = Native.downcallErrno("open",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT), Native.firstVariadicArg(2));
    private static final MethodHandle OPENAT = Native.downcallErrno("openat",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT), Native.firstVariadicArg(3));
    private static final MethodHandle CLOSE = Native.downcallErrno("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle READ = Native.downcallErrno("read",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
    private static final MethodHandle WRITE = Native.downcallErrno("write",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
    private static final MethodHandle PREAD = Native.downcallErrno("pread",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG));
    private static final MethodHandle PWRITE = Native.downcallErrno("pwrite",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG));
    private static final MethodHandle IOCTL_PTR = Native.downcallErrno("ioctl",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS), Native.firstVariadicArg(2));
    private static final MethodHandle IOCTL_LONG = Native.downcallErrno("ioctl",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG), Native.firstVariadicArg(2));
    private static final MethodHandle MMAP = Native.downcallErrno("mmap",
            FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG));
    private static final MethodHandle MUNMAP = Native.downcallErrno("munmap",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));
    private static final MethodHandle MADVISE = Native.downcallErrno("madvise",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));
    private static final MethodHandle MPROTECT = Native.downcallErrno("mprotect",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));
    private static final MethodHandle MEMFD_CREATE = Native.downcallErrno("memfd_create",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle EVENTFD = Native.downcallErrno("eventfd",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
    private static final MethodHandle CHMOD = Native.downcallErrno("chmod",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle FTRUNCATE = Native.downcallErrno("ftruncate",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG));
    private static final MethodHandle FALLOCATE = Native.downcallErrno("fallocate",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG));
    private static final MethodHandle POLL = Native.downcallErrno("poll",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));
    private static final MethodHandle SYSCALL3 = Native.downcallErrno("syscall",
            FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG), Native.firstVariadicArg(1));
    private static final MethodHandle PIPE2 = Native.downcallErrno("pipe2",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle COPY_FILE_RANGE = Native.downcallErrno("copy_file_range",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));
    private static final MethodHandle PROCESS_VM_READV = Native.downcallErrno("process_vm_readv",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, ADDRESS, JAVA_LONG, JAVA_LONG));
    private static final MethodHandle GETPID = Native.downcall("getpid", FunctionDescriptor.of(JAVA_INT));
    private static final MethodHandle GETTID = Native.downcall("gettid", FunctionDescriptor.of(JAVA_INT));

    private Libc() {
    }

    // ---- files -------------------------------------------------------------------------------------------------

    public static int open(String path, int flags, int mode) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment err = Native.errnoBuffer();
            int fd = (int) OPEN.invokeExact(err, a.allocateFrom(path), flags, mode);
            if (fd < 0) {
                throw new NativeException("open", Native.errno(err), path);
            }
            return fd;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    public static int open(String path, int flags) {
        return open(path, flags, 0);
    }

    /**
     * {@code openat(dirfd, name, flags, mode)}: {@code name} is looked up relative to the directory {@code dirfd}
     * names (or the working directory for {@link #AT_FDCWD}), so a walk one component at a time with
     * {@link #O_NOFOLLOW} never leaves the tree it started in.
     */
    public static int openat(int dirfd, String name, int flags, int mode) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment err = Native.errnoBuffer();
            int fd = (int) OPENAT.invokeExact(err, dirfd, a.allocateFrom(name), flags, mode);
            if (fd < 0) {
                throw new NativeException("openat", Native.errno(err), name);
            }
            return fd;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    public static void close(int fd) {
        try {
            MemorySegment err = Native.errnoBuffer();
            if ((int) CLOSE.invokeExact(err, fd) < 0) {
                throw new NativeException("close", Native.errno(err));
            }
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** Reads up to {@code buf.byteSize()} bytes; returns the count (0 at end of file). */
    public static long read(int fd, MemorySegment buf) {
        return check("read", readRaw(fd, buf, buf.byteSize()));
    }

    /** {@code read}, returning {@code -errno} on failure. */
    public static long readRaw(int fd, MemorySegment buf, long count) {
        try {
            MemorySegment err = Native.errnoBuffer();
            long n = (long) READ.invokeExact(err, fd, buf, count);
            return n < 0 ? -Native.errno(err) : n;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    public static long write(int fd, MemorySegment buf) {
        return check("write", writeRaw(fd, buf, buf.byteSize()));
    }

    public static long writeRaw(int fd, MemorySegment buf, long count) {
        try {
            MemorySegment err = Native.errnoBuffer();
            long n = (long) WRITE.invokeExact(err, fd, buf, count);
            return n < 0 ? -Native.errno(err) : n;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    public static long pread(int fd, MemorySegment buf, long offset) {
        return check("pread", preadRaw(fd, buf, buf.byteSize(), offset));
    }

    public static long preadRaw(int fd, MemorySegment buf, long count, long offset) {
        try {
            MemorySegment err = Native.errnoBuffer();
            long n = (long) PREAD.invokeExact(err, fd, buf, count, offset);
            return n < 0 ? -Native.errno(err) : n;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    public static long pwrite(int fd, MemorySegment buf, long offset) {
        return check("pwrite", pwriteRaw(fd, buf, buf.byteSize(), offset));
    }

    public static long pwriteRaw(int fd, MemorySegment buf, long count, long offset) {
        try {
            MemorySegment err = Native.errnoBuffer();
            long n = (long) PWRITE.invokeExact(err, fd, buf, count, offset);
            return n < 0 ? -Native.errno(err) : n;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /**
     * {@code chmod(path, mode)} with the set-user-ID, set-group-ID and sticky bits, which
     * {@code Files.setPosixFilePermissions} cannot set (image layers carry them, e.g. {@code /usr/bin/su}).
     */
    public static void chmod(String path, int mode) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment err = Native.errnoBuffer();
            if ((int) CHMOD.invokeExact(err, a.allocateFrom(path), mode) < 0) {
                throw new NativeException("chmod", Native.errno(err), path);
            }
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    public static void ftruncate(int fd, long length) {
        try {
            MemorySegment err = Native.errnoBuffer();
            if ((int) FTRUNCATE.invokeExact(err, fd, length) < 0) {
                throw new NativeException("ftruncate", Native.errno(err));
            }
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    public static void fallocate(int fd, int mode, long offset, long length) {
        try {
            MemorySegment err = Native.errnoBuffer();
            if ((int) FALLOCATE.invokeExact(err, fd, mode, offset, length) < 0) {
                throw new NativeException("fallocate", Native.errno(err));
            }
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** {@code pipe2}: returns {@code {readFd, writeFd}}, both owned by the caller. */
    public static int[] pipe2(int flags) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment err = Native.errnoBuffer();
            MemorySegment fds = a.allocate(JAVA_INT, 2);
            if ((int) PIPE2.invokeExact(err, fds, flags) < 0) {
                throw new NativeException("pipe2", Native.errno(err));
            }
            return fds.toArray(JAVA_INT);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /**
     * {@code copy_file_range} between explicit offsets (the fds' file positions are left alone): copies in the
     * kernel, sharing extents where the filesystem can (reflink). Returns the bytes copied, 0 at end of input;
     * may copy less than {@code length}.
     */
    public static long copyFileRange(int fdIn, long offsetIn, int fdOut, long offsetOut, long length) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment err = Native.errnoBuffer();
            MemorySegment offIn = a.allocateFrom(JAVA_LONG, offsetIn);
            MemorySegment offOut = a.allocateFrom(JAVA_LONG, offsetOut);
            long n = (long) COPY_FILE_RANGE.invokeExact(err, fdIn, offIn, fdOut, offOut, length, 0);
            if (n < 0) {
                throw new NativeException("copy_file_range", Native.errno(err));
            }
            return n;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    // ---- ioctl -------------------------------------------------------------------------------------------------

    /** {@code ioctl(fd, request, arg*)}; {@code name} is the request's name for the error message. */
    public static int ioctl(int fd, long request, MemorySegment arg, String name) {
        int r = ioctlRaw(fd, request, arg);
        if (r < 0) {
            throw new NativeException("ioctl(" + name + ")", -r);
        }
        return r;
    }

    /** {@code ioctl(fd, request, (unsigned long) arg)}, for requests that take an integer argument. */
    public static int ioctl(int fd, long request, long arg, String name) {
        int r = ioctlRaw(fd, request, arg);
        if (r < 0) {
            throw new NativeException("ioctl(" + name + ")", -r);
        }
        return r;
    }

    /** ioctl returning its result, or {@code -errno}: for hot paths where some failures are expected. */
    public static int ioctlRaw(int fd, long request, MemorySegment arg) {
        try {
            MemorySegment err = Native.errnoBuffer();
            int r = (int) IOCTL_PTR.invokeExact(err, fd, request, arg);
            return r < 0 ? -Native.errno(err) : r;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    public static int ioctlRaw(int fd, long request, long arg) {
        try {
            MemorySegment err = Native.errnoBuffer();
            int r = (int) IOCTL_LONG.invokeExact(err, fd, request, arg);
            return r < 0 ? -Native.errno(err) : r;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    // ---- memory ------------------------------------------------------------------------------------------------

    /**
     * mmap; the returned segment has the mapping's size but no owner: the caller owns it and must
     * {@link #munmap(MemorySegment)} it (guest memory outlives any one arena scope, so it is not tied to one).
     */
    public static MemorySegment mmap(MemorySegment addr, long length, int prot, int flags, int fd, long offset) {
        try {
            MemorySegment err = Native.errnoBuffer();
            MemorySegment p = (MemorySegment) MMAP.invokeExact(err, addr, length, prot, flags, fd, offset);
            if (p.address() == MAP_FAILED) {
                throw new NativeException("mmap", Native.errno(err), "length " + length);
            }
            return p.reinterpret(length);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    public static void munmap(MemorySegment mapping) {
        try {
            MemorySegment err = Native.errnoBuffer();
            if ((int) MUNMAP.invokeExact(err, mapping, mapping.byteSize()) < 0) {
                throw new NativeException("munmap", Native.errno(err));
            }
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    public static void madvise(MemorySegment range, int advice) {
        try {
            MemorySegment err = Native.errnoBuffer();
            if ((int) MADVISE.invokeExact(err, range, range.byteSize(), advice) < 0) {
                throw new NativeException("madvise", Native.errno(err), "advice " + advice);
            }
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    public static void mprotect(MemorySegment range, int prot) {
        try {
            MemorySegment err = Native.errnoBuffer();
            if ((int) MPROTECT.invokeExact(err, range, range.byteSize(), prot) < 0) {
                throw new NativeException("mprotect", Native.errno(err));
            }
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    public static int memfdCreate(String name, int flags) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment err = Native.errnoBuffer();
            int fd = (int) MEMFD_CREATE.invokeExact(err, a.allocateFrom(name), flags);
            if (fd < 0) {
                throw new NativeException("memfd_create", Native.errno(err), name);
            }
            return fd;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    public static int eventfd(int initval, int flags) {
        try {
            MemorySegment err = Native.errnoBuffer();
            int fd = (int) EVENTFD.invokeExact(err, initval, flags);
            if (fd < 0) {
                throw new NativeException("eventfd", Native.errno(err));
            }
            return fd;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /**
     * {@code process_vm_readv} with one local and one remote range: copies {@code into.byteSize()} bytes from
     * {@code remoteAddress} in process {@code pid}; returns the bytes read (short when the remote range ends in an
     * unmapped page).
     */
    public static long processVmRead(int pid, long remoteAddress, MemorySegment into) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment local = a.allocate(IOVEC);
            local.set(ADDRESS, IOV_BASE, into);
            local.set(JAVA_LONG, IOV_LEN, into.byteSize());
            MemorySegment remote = a.allocate(IOVEC);
            remote.set(ADDRESS, IOV_BASE, MemorySegment.ofAddress(remoteAddress));
            remote.set(JAVA_LONG, IOV_LEN, into.byteSize());
            return processVmReadv(pid, local, 1, remote, 1);
        }
    }

    /** {@code process_vm_readv} over arrays of {@link #IOVEC}; flags must be 0 (the kernel reserves them). */
    public static long processVmReadv(int pid, MemorySegment localIov, long localCount, MemorySegment remoteIov,
            long remoteCount) {
        try {
            MemorySegment err = Native.errnoBuffer();
            long n = (long) PROCESS_VM_READV.invokeExact(err, pid, localIov, localCount, remoteIov, remoteCount, 0L);
            if (n < 0) {
                throw new NativeException("process_vm_readv", Native.errno(err), "pid " + pid);
            }
            return n;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    // ---- poll and raw syscalls ---------------------------------------------------------------------------------

    /** poll over an array of {@code struct pollfd} ({@link #POLLFD}); returns the ready count, or {@code -errno}. */
    public static int pollRaw(MemorySegment fds, long nfds, int timeoutMillis) {
        try {
            MemorySegment err = Native.errnoBuffer();
            int r = (int) POLL.invokeExact(err, fds, nfds, timeoutMillis);
            return r < 0 ? -Native.errno(err) : r;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** {@code syscall(nr, a, b, c)}: for calls glibc does not wrap (userfaultfd). Returns the result or {@code -errno}. */
    public static long syscallRaw(long nr, long a, long b, long c) {
        try {
            MemorySegment err = Native.errnoBuffer();
            long r = (long) SYSCALL3.invokeExact(err, nr, a, b, c);
            return r < 0 ? -Native.errno(err) : r;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    public static int getpid() {
        try {
            return (int) GETPID.invokeExact();
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    public static int gettid() {
        try {
            return (int) GETTID.invokeExact();
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** {@code struct pollfd { int fd; short events; short revents; }}. */
    public static final java.lang.foreign.StructLayout POLLFD = java.lang.foreign.MemoryLayout.structLayout(
            JAVA_INT.withName("fd"),
            java.lang.foreign.ValueLayout.JAVA_SHORT.withName("events"),
            java.lang.foreign.ValueLayout.JAVA_SHORT.withName("revents")).withName("pollfd");

    private static long check(String call, long r) {
        if (r < 0) {
            throw new NativeException(call, (int) -r);
        }
        return r;
    }
}
