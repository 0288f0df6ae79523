package io.sandboxd.ffi;

import static io.sandboxd.ffi.Userfaultfd.*;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.sandboxd.ffi.headers.HeaderCheck;
import org.junit.jupiter.api.Test;

class UserfaultfdHeadersTest {
    @Test
    void userfaultfdMatchesTheSystemHeaders() throws Exception {
        new HeaderCheck("userfaultfd")
                .struct("uffdio_api", UffdioApi.LAYOUT)
                .struct("uffdio_range", UffdioRange.LAYOUT)
                .struct("uffdio_register", UffdioRegister.LAYOUT)
                .struct("uffdio_copy", UffdioCopy.LAYOUT)
                .struct("uffdio_zeropage", UffdioZeropage.LAYOUT)
                .struct("uffdio_writeprotect", UffdioWriteprotect.LAYOUT)
                .struct("uffd_msg", UffdMsg.LAYOUT)
                .constant("SYS_userfaultfd", SYS_userfaultfd)
                .constant("MADV_POPULATE_READ", MADV_POPULATE_READ).constant("MADV_POPULATE_WRITE", MADV_POPULATE_WRITE)
                .constant("USERFAULTFD_IOC", USERFAULTFD_IOC).constant("USERFAULTFD_IOC_NEW", USERFAULTFD_IOC_NEW)
                .constant("UFFD_API", UFFD_API).constant("UFFD_USER_MODE_ONLY", UFFD_USER_MODE_ONLY)
                .constant("UFFDIO", UFFDIO).constant("_UFFDIO_REGISTER", _UFFDIO_REGISTER)
                .constant("_UFFDIO_UNREGISTER", _UFFDIO_UNREGISTER).constant("_UFFDIO_WAKE", _UFFDIO_WAKE)
                .constant("_UFFDIO_COPY", _UFFDIO_COPY).constant("_UFFDIO_ZEROPAGE", _UFFDIO_ZEROPAGE)
                .constant("_UFFDIO_WRITEPROTECT", _UFFDIO_WRITEPROTECT).constant("_UFFDIO_API", _UFFDIO_API)
                .constant("UFFDIO_API", UFFDIO_API).constant("UFFDIO_REGISTER", UFFDIO_REGISTER)
                .constant("UFFDIO_UNREGISTER", UFFDIO_UNREGISTER).constant("UFFDIO_WAKE", UFFDIO_WAKE)
                .constant("UFFDIO_COPY", UFFDIO_COPY).constant("UFFDIO_ZEROPAGE", UFFDIO_ZEROPAGE)
                .constant("UFFDIO_WRITEPROTECT", UFFDIO_WRITEPROTECT)
                .constant("UFFD_EVENT_PAGEFAULT", UFFD_EVENT_PAGEFAULT).constant("UFFD_EVENT_FORK", UFFD_EVENT_FORK)
                .constant("UFFD_EVENT_REMAP", UFFD_EVENT_REMAP).constant("UFFD_EVENT_REMOVE", UFFD_EVENT_REMOVE)
                .constant("UFFD_EVENT_UNMAP", UFFD_EVENT_UNMAP)
                .constant("UFFD_PAGEFAULT_FLAG_WRITE", UFFD_PAGEFAULT_FLAG_WRITE)
                .constant("UFFD_PAGEFAULT_FLAG_WP", UFFD_PAGEFAULT_FLAG_WP)
                .constant("UFFD_PAGEFAULT_FLAG_MINOR", UFFD_PAGEFAULT_FLAG_MINOR)
                .constant("UFFD_FEATURE_PAGEFAULT_FLAG_WP", UFFD_FEATURE_PAGEFAULT_FLAG_WP)
                .constant("UFFD_FEATURE_EVENT_FORK", UFFD_FEATURE_EVENT_FORK)
                .constant("UFFD_FEATURE_EVENT_REMAP", UFFD_FEATURE_EVENT_REMAP)
                .constant("UFFD_FEATURE_EVENT_REMOVE", UFFD_FEATURE_EVENT_REMOVE)
                .constant("UFFD_FEATURE_MISSING_HUGETLBFS", UFFD_FEATURE_MISSING_HUGETLBFS)
                .constant("UFFD_FEATURE_MISSING_SHMEM", UFFD_FEATURE_MISSING_SHMEM)
                .constant("UFFD_FEATURE_EVENT_UNMAP", UFFD_FEATURE_EVENT_UNMAP)
                .constant("UFFD_FEATURE_SIGBUS", UFFD_FEATURE_SIGBUS)
                .constant("UFFD_FEATURE_THREAD_ID", UFFD_FEATURE_THREAD_ID)
                .constant("UFFD_FEATURE_MINOR_HUGETLBFS", UFFD_FEATURE_MINOR_HUGETLBFS)
                .constant("UFFD_FEATURE_MINOR_SHMEM", UFFD_FEATURE_MINOR_SHMEM)
                .constant("UFFD_FEATURE_EXACT_ADDRESS", UFFD_FEATURE_EXACT_ADDRESS)
                .constant("UFFD_FEATURE_WP_HUGETLBFS_SHMEM", UFFD_FEATURE_WP_HUGETLBFS_SHMEM)
                .constant("UFFDIO_REGISTER_MODE_MISSING", UFFDIO_REGISTER_MODE_MISSING)
                .constant("UFFDIO_REGISTER_MODE_WP", UFFDIO_REGISTER_MODE_WP)
                .constant("UFFDIO_REGISTER_MODE_MINOR", UFFDIO_REGISTER_MODE_MINOR)
                .constant("UFFDIO_COPY_MODE_DONTWAKE", UFFDIO_COPY_MODE_DONTWAKE)
                .constant("UFFDIO_COPY_MODE_WP", UFFDIO_COPY_MODE_WP)
                .constant("UFFDIO_ZEROPAGE_MODE_DONTWAKE", UFFDIO_ZEROPAGE_MODE_DONTWAKE)
                .constant("UFFDIO_WRITEPROTECT_MODE_WP", UFFDIO_WRITEPROTECT_MODE_WP)
                .constant("UFFDIO_WRITEPROTECT_MODE_DONTWAKE", UFFDIO_WRITEPROTECT_MODE_DONTWAKE)
                .verify();
    }

    @Test
    void flyweightOffsetsMatchTheLayouts() {
        // The hot path writes through the OFFSET constants, not the layouts: pin one to the other.
        assertEquals(32, UffdMsg.LAYOUT.byteSize());
        assertEquals(UffdMsg.BYTES, UffdMsg.LAYOUT.byteSize());
        assertEquals(UffdMsg.PAGEFAULT_ADDRESS, off(UffdMsg.LAYOUT, "arg", "pagefault", "address"));
        assertEquals(UffdMsg.PAGEFAULT_FLAGS, off(UffdMsg.LAYOUT, "arg", "pagefault", "flags"));
        assertEquals(UffdMsg.PAGEFAULT_PTID, off(UffdMsg.LAYOUT, "arg", "pagefault", "feat", "ptid"));
        assertEquals(UffdMsg.FORK_UFD, off(UffdMsg.LAYOUT, "arg", "fork", "ufd"));
        assertEquals(UffdMsg.REMAP_FROM, off(UffdMsg.LAYOUT, "arg", "remap", "from"));
        assertEquals(UffdMsg.REMAP_TO, off(UffdMsg.LAYOUT, "arg", "remap", "to"));
        assertEquals(UffdMsg.REMAP_LEN, off(UffdMsg.LAYOUT, "arg", "remap", "len"));
        assertEquals(UffdMsg.REMOVE_START, off(UffdMsg.LAYOUT, "arg", "remove", "start"));
        assertEquals(UffdMsg.REMOVE_END, off(UffdMsg.LAYOUT, "arg", "remove", "end"));
        assertEquals(UffdioCopy.COPY, off(UffdioCopy.LAYOUT, "copy"));
        assertEquals(UffdioCopy.MODE, off(UffdioCopy.LAYOUT, "mode"));
        assertEquals(UffdioZeropage.ZEROPAGE, off(UffdioZeropage.LAYOUT, "zeropage"));
        assertEquals(UffdioZeropage.MODE, off(UffdioZeropage.LAYOUT, "mode"));
        assertEquals(UffdioRegister.MODE, off(UffdioRegister.LAYOUT, "mode"));
        assertEquals(UffdioRegister.IOCTLS, off(UffdioRegister.LAYOUT, "ioctls"));
        assertEquals(UffdioRegister.RANGE_LEN, off(UffdioRegister.LAYOUT, "range", "len"));
        assertEquals(UffdioWriteprotect.MODE, off(UffdioWriteprotect.LAYOUT, "mode"));
        assertEquals(UffdioApi.IOCTLS, off(UffdioApi.LAYOUT, "ioctls"));
    }

    private static long off(java.lang.foreign.MemoryLayout l, String... path) {
        var elements = new java.lang.foreign.MemoryLayout.PathElement[path.length];
        for (int i = 0; i < path.length; i++) {
            elements[i] = java.lang.foreign.MemoryLayout.PathElement.groupElement(path[i]);
        }
        return l.byteOffset(elements);
    }
}
