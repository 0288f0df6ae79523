package io.sandboxd.ffi;

import io.sandboxd.ffi.headers.HeaderCheck;
import org.junit.jupiter.api.Test;

class LibcHeadersTest {
    @Test
    void libcMatchesTheSystemHeaders() throws Exception {
        new HeaderCheck("libc")
                .struct("pollfd", Libc.POLLFD)
                .struct("iovec", Libc.IOVEC)
                .constant("O_RDONLY", Libc.O_RDONLY).constant("O_WRONLY", Libc.O_WRONLY).constant("O_RDWR", Libc.O_RDWR)
                .constant("O_CREAT", Libc.O_CREAT).constant("O_EXCL", Libc.O_EXCL).constant("O_NOCTTY", Libc.O_NOCTTY)
                .constant("O_TRUNC", Libc.O_TRUNC).constant("O_APPEND", Libc.O_APPEND).constant("O_NONBLOCK", Libc.O_NONBLOCK)
                .constant("O_DIRECTORY", Libc.O_DIRECTORY).constant("O_CLOEXEC", Libc.O_CLOEXEC)
                .constant("O_NOFOLLOW", Libc.O_NOFOLLOW).constant("O_PATH", Libc.O_PATH).constant("AT_FDCWD", Libc.AT_FDCWD)
                .constant("PROT_NONE", Libc.PROT_NONE).constant("PROT_READ", Libc.PROT_READ)
                .constant("PROT_WRITE", Libc.PROT_WRITE).constant("PROT_EXEC", Libc.PROT_EXEC)
                .constant("MAP_SHARED", Libc.MAP_SHARED).constant("MAP_PRIVATE", Libc.MAP_PRIVATE)
                .constant("MAP_FIXED", Libc.MAP_FIXED).constant("MAP_ANONYMOUS", Libc.MAP_ANONYMOUS)
                .constant("MAP_NORESERVE", Libc.MAP_NORESERVE).constant("MAP_POPULATE", Libc.MAP_POPULATE)
                .constant("MADV_DONTNEED", Libc.MADV_DONTNEED).constant("MADV_REMOVE", Libc.MADV_REMOVE)
                .constant("MADV_DONTFORK", Libc.MADV_DONTFORK).constant("MADV_HUGEPAGE", Libc.MADV_HUGEPAGE)
                .constant("MADV_NOHUGEPAGE", Libc.MADV_NOHUGEPAGE)
                .constant("MFD_CLOEXEC", Libc.MFD_CLOEXEC).constant("MFD_ALLOW_SEALING", Libc.MFD_ALLOW_SEALING)
                .constant("EFD_SEMAPHORE", Libc.EFD_SEMAPHORE).constant("EFD_NONBLOCK", Libc.EFD_NONBLOCK)
                .constant("EFD_CLOEXEC", Libc.EFD_CLOEXEC)
                .constant("FALLOC_FL_KEEP_SIZE", Libc.FALLOC_FL_KEEP_SIZE)
                .constant("FALLOC_FL_PUNCH_HOLE", Libc.FALLOC_FL_PUNCH_HOLE)
                .constant("FALLOC_FL_ZERO_RANGE", Libc.FALLOC_FL_ZERO_RANGE)
                .constant("POLLIN", Libc.POLLIN).constant("POLLOUT", Libc.POLLOUT).constant("POLLERR", Libc.POLLERR)
                .constant("POLLHUP", Libc.POLLHUP).constant("POLLNVAL", Libc.POLLNVAL)
                .constant("MAP_FAILED", Libc.MAP_FAILED)
                .constant("EPERM", Errno.EPERM).constant("ENOENT", Errno.ENOENT).constant("ESRCH", Errno.ESRCH)
                .constant("EINTR", Errno.EINTR).constant("EIO", Errno.EIO).constant("ENXIO", Errno.ENXIO)
                .constant("E2BIG", Errno.E2BIG).constant("EBADF", Errno.EBADF).constant("ECHILD", Errno.ECHILD)
                .constant("EAGAIN", Errno.EAGAIN).constant("ENOMEM", Errno.ENOMEM).constant("EACCES", Errno.EACCES)
                .constant("EFAULT", Errno.EFAULT).constant("EBUSY", Errno.EBUSY).constant("EEXIST", Errno.EEXIST)
                .constant("ENODEV", Errno.ENODEV).constant("ENOTDIR", Errno.ENOTDIR).constant("EISDIR", Errno.EISDIR)
                .constant("EINVAL", Errno.EINVAL).constant("ENFILE", Errno.ENFILE).constant("EMFILE", Errno.EMFILE)
                .constant("ENOTTY", Errno.ENOTTY).constant("EFBIG", Errno.EFBIG).constant("ENOSPC", Errno.ENOSPC)
                .constant("ESPIPE", Errno.ESPIPE).constant("EROFS", Errno.EROFS).constant("EPIPE", Errno.EPIPE)
                .constant("ERANGE", Errno.ERANGE).constant("ENOSYS", Errno.ENOSYS).constant("ENOTEMPTY", Errno.ENOTEMPTY)
                .constant("ELOOP", Errno.ELOOP).constant("ENODATA", Errno.ENODATA).constant("EOVERFLOW", Errno.EOVERFLOW)
                .constant("EOPNOTSUPP", Errno.EOPNOTSUPP).constant("EADDRINUSE", Errno.EADDRINUSE)
                .constant("ECONNRESET", Errno.ECONNRESET).constant("ETIMEDOUT", Errno.ETIMEDOUT)
                .constant("ECONNREFUSED", Errno.ECONNREFUSED)
                .verify();
    }
}
