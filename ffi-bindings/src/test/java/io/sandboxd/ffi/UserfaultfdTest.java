package io.sandboxd.ffi;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.Test;

/** The binding end to end: open, handshake, register, serve one fault from another thread, EEXIST as -errno. */
class UserfaultfdTest {
    private static final long PAGE = 4096;

    @Test
    void servesAMissingFaultWithCopyAndReportsEexistRaw() throws Exception {
        int uffd = Userfaultfd.open(Libc.O_CLOEXEC);
        MemorySegment mem = Libc.mmap(MemorySegment.NULL, 2 * PAGE, Libc.PROT_READ | Libc.PROT_WRITE,
                Libc.MAP_PRIVATE | Libc.MAP_ANONYMOUS, -1, 0);
        try (Arena arena = Arena.ofShared()) {
            long enabled = Userfaultfd.api(uffd, Userfaultfd.UFFD_FEATURE_EVENT_REMOVE);
            assertTrue((enabled & Userfaultfd.UFFD_FEATURE_EVENT_REMOVE) != 0);
            long ioctls = Userfaultfd.register(uffd, mem.address(), mem.byteSize(), Userfaultfd.UFFDIO_REGISTER_MODE_MISSING);
            assertTrue((ioctls & (1L << Userfaultfd._UFFDIO_COPY)) != 0, "COPY allowed on the range");

            MemorySegment src = arena.allocate(PAGE, PAGE);
            src.fill((byte) 0x5a);
            Thread toucher = Thread.ofPlatform().start(() -> assertEquals(0x5a, mem.get(JAVA_BYTE, PAGE + 7)));

            MemorySegment msg = arena.allocate(Userfaultfd.UffdMsg.LAYOUT);
            assertEquals(Userfaultfd.UffdMsg.BYTES, Libc.read(uffd, msg)); // blocking fd: waits for the fault
            assertEquals(Userfaultfd.UFFD_EVENT_PAGEFAULT, msg.get(JAVA_BYTE, Userfaultfd.UffdMsg.EVENT));
            long addr = msg.get(JAVA_LONG, Userfaultfd.UffdMsg.PAGEFAULT_ADDRESS) & ~(PAGE - 1);
            assertEquals(mem.address() + PAGE, addr);

            MemorySegment copy = arena.allocate(Userfaultfd.UffdioCopy.LAYOUT);
            assertEquals(0, Userfaultfd.copyRaw(uffd, copy, addr, src.address(), PAGE, 0));
            assertEquals(PAGE, copy.get(JAVA_LONG, Userfaultfd.UffdioCopy.COPY));
            toucher.join();
            assertEquals(-Errno.EEXIST, Userfaultfd.copyRaw(uffd, copy, addr, src.address(), PAGE, 0));

            MemorySegment zero = arena.allocate(Userfaultfd.UffdioZeropage.LAYOUT);
            assertEquals(0, Userfaultfd.zeropageRaw(uffd, zero, mem.address(), PAGE, 0));
            assertEquals(0, mem.get(JAVA_BYTE, 0));
            Userfaultfd.unregister(uffd, mem.address(), mem.byteSize());
        } finally {
            Libc.munmap(mem);
            Libc.close(uffd);
        }
    }

    @Test
    void theDeviceFallbackOpensAUserfaultfdToo() {
        int dev = Libc.open("/dev/userfaultfd", Libc.O_RDWR | Libc.O_CLOEXEC);
        try {
            int uffd = Libc.ioctl(dev, Userfaultfd.USERFAULTFD_IOC_NEW, Libc.O_CLOEXEC, "USERFAULTFD_IOC_NEW");
            try {
                // Same kernel object either way: the handshake offers the same features as the syscall's fd.
                assertEquals(Userfaultfd.supportedFeatures(), Userfaultfd.api(uffd, 0));
            } finally {
                Libc.close(uffd);
            }
        } finally {
            Libc.close(dev);
        }
    }
}
