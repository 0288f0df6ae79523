/* <linux/userfaultfd.h> declarations bound by io.sandboxd.ffi.Userfaultfd. */
#include "probe.h"
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <linux/userfaultfd.h>

int main(void) {
    STRUCT(uffdio_api) FIELD(uffdio_api, api) FIELD(uffdio_api, features) FIELD(uffdio_api, ioctls)
    STRUCT(uffdio_range) FIELD(uffdio_range, start) FIELD(uffdio_range, len)
    STRUCT(uffdio_register) FIELD(uffdio_register, range) FIELD(uffdio_register, range.start)
        FIELD(uffdio_register, range.len) FIELD(uffdio_register, mode) FIELD(uffdio_register, ioctls)
    STRUCT(uffdio_copy) FIELD(uffdio_copy, dst) FIELD(uffdio_copy, src) FIELD(uffdio_copy, len)
        FIELD(uffdio_copy, mode) FIELD(uffdio_copy, copy)
    STRUCT(uffdio_zeropage) FIELD(uffdio_zeropage, range) FIELD(uffdio_zeropage, range.start)
        FIELD(uffdio_zeropage, range.len) FIELD(uffdio_zeropage, mode) FIELD(uffdio_zeropage, zeropage)
    STRUCT(uffdio_writeprotect) FIELD(uffdio_writeprotect, range) FIELD(uffdio_writeprotect, range.start)
        FIELD(uffdio_writeprotect, range.len) FIELD(uffdio_writeprotect, mode)
    STRUCT(uffd_msg) FIELD(uffd_msg, event) FIELD(uffd_msg, reserved1) FIELD(uffd_msg, reserved2)
        FIELD(uffd_msg, reserved3) FIELD(uffd_msg, arg)
        FIELD(uffd_msg, arg.pagefault) FIELD(uffd_msg, arg.pagefault.flags) FIELD(uffd_msg, arg.pagefault.address)
        FIELD(uffd_msg, arg.pagefault.feat) FIELD(uffd_msg, arg.pagefault.feat.ptid)
        FIELD(uffd_msg, arg.fork) FIELD(uffd_msg, arg.fork.ufd)
        FIELD(uffd_msg, arg.remap) FIELD(uffd_msg, arg.remap.from) FIELD(uffd_msg, arg.remap.to)
        FIELD(uffd_msg, arg.remap.len)
        FIELD(uffd_msg, arg.remove) FIELD(uffd_msg, arg.remove.start) FIELD(uffd_msg, arg.remove.end)

    CONST(SYS_userfaultfd) CONST(MADV_POPULATE_READ) CONST(MADV_POPULATE_WRITE)
    CONST(USERFAULTFD_IOC) CONST(USERFAULTFD_IOC_NEW)
    CONST(UFFD_API) CONST(UFFD_USER_MODE_ONLY)
    CONST(UFFDIO) CONST(_UFFDIO_REGISTER) CONST(_UFFDIO_UNREGISTER) CONST(_UFFDIO_WAKE) CONST(_UFFDIO_COPY)
    CONST(_UFFDIO_ZEROPAGE) CONST(_UFFDIO_WRITEPROTECT) CONST(_UFFDIO_API)
    CONST(UFFDIO_API) CONST(UFFDIO_REGISTER) CONST(UFFDIO_UNREGISTER) CONST(UFFDIO_WAKE) CONST(UFFDIO_COPY)
    CONST(UFFDIO_ZEROPAGE) CONST(UFFDIO_WRITEPROTECT)
    CONST(UFFD_EVENT_PAGEFAULT) CONST(UFFD_EVENT_FORK) CONST(UFFD_EVENT_REMAP) CONST(UFFD_EVENT_REMOVE)
    CONST(UFFD_EVENT_UNMAP)
    CONST(UFFD_PAGEFAULT_FLAG_WRITE) CONST(UFFD_PAGEFAULT_FLAG_WP) CONST(UFFD_PAGEFAULT_FLAG_MINOR)
    CONST(UFFD_FEATURE_PAGEFAULT_FLAG_WP) CONST(UFFD_FEATURE_EVENT_FORK) CONST(UFFD_FEATURE_EVENT_REMAP)
    CONST(UFFD_FEATURE_EVENT_REMOVE) CONST(UFFD_FEATURE_MISSING_HUGETLBFS) CONST(UFFD_FEATURE_MISSING_SHMEM)
    CONST(UFFD_FEATURE_EVENT_UNMAP) CONST(UFFD_FEATURE_SIGBUS) CONST(UFFD_FEATURE_THREAD_ID)
    CONST(UFFD_FEATURE_MINOR_HUGETLBFS) CONST(UFFD_FEATURE_MINOR_SHMEM) CONST(UFFD_FEATURE_EXACT_ADDRESS)
    CONST(UFFD_FEATURE_WP_HUGETLBFS_SHMEM)
    CONST(UFFDIO_REGISTER_MODE_MISSING) CONST(UFFDIO_REGISTER_MODE_WP) CONST(UFFDIO_REGISTER_MODE_MINOR)
    CONST(UFFDIO_COPY_MODE_DONTWAKE) CONST(UFFDIO_COPY_MODE_WP) CONST(UFFDIO_ZEROPAGE_MODE_DONTWAKE)
    CONST(UFFDIO_WRITEPROTECT_MODE_WP) CONST(UFFDIO_WRITEPROTECT_MODE_DONTWAKE)
    return 0;
}
