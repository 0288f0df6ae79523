package io.sandboxd.ffi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class EpollTest {
    @BeforeAll
    static void loadBindings() {
        Libc.close(Epoll.create(Epoll.EPOLL_CLOEXEC));
    }

    @Test
    void reportsAReadableEventfdWithItsData() {
        long before = OpenFds.count();
        int ep = Epoll.create(Epoll.EPOLL_CLOEXEC);
        int quiet = Libc.eventfd(0, Libc.EFD_CLOEXEC | Libc.EFD_NONBLOCK);
        int loud = Libc.eventfd(0, Libc.EFD_CLOEXEC | Libc.EFD_NONBLOCK);
        try (Arena a = Arena.ofConfined()) {
            Epoll.ctl(ep, Epoll.EPOLL_CTL_ADD, quiet, Epoll.EPOLLIN, 7);
            // a data value with the high bit set: checks the 64-bit field survives the packed, unaligned layout
            Epoll.ctl(ep, Epoll.EPOLL_CTL_ADD, loud, Epoll.EPOLLIN | Epoll.EPOLLET, 0x8000_0000_0000_002AL);
            MemorySegment events = Epoll.allocateEvents(a, 4);
            assertEquals(4 * 12, events.byteSize(), "epoll_event is 12 bytes, arrays have no padding");
            assertEquals(0, Epoll.await(ep, events, 0));

            Libc.write(loud, a.allocateFrom(ValueLayout.JAVA_LONG, 1));
            assertEquals(1, Epoll.await(ep, events, 1000));
            assertEquals(Epoll.EPOLLIN, Epoll.events(events, 0));
            assertEquals(0x8000_0000_0000_002AL, Epoll.data(events, 0));

            Epoll.ctl(ep, Epoll.EPOLL_CTL_DEL, loud, 0, 0);
            assertEquals(0, Epoll.await(ep, events, 0));
        } finally {
            Libc.close(loud);
            Libc.close(quiet);
            Libc.close(ep);
        }
        assertEquals(before, OpenFds.count());
    }

    @Test
    void failuresNameTheCall() {
        int ep = Epoll.create(Epoll.EPOLL_CLOEXEC);
        try {
            NativeException e = assertThrows(NativeException.class,
                    () -> Epoll.ctl(ep, Epoll.EPOLL_CTL_ADD, -1, Epoll.EPOLLIN, 0));
            assertEquals("epoll_ctl", e.call());
            assertEquals(Errno.EBADF, e.errno());
            try (Arena a = Arena.ofConfined()) {
                assertEquals(-Errno.EBADF, Epoll.awaitRaw(-1, Epoll.allocateEvents(a, 1), 0));
                e = assertThrows(NativeException.class, () -> Epoll.await(-1, Epoll.allocateEvents(a, 1), 0));
                assertEquals("epoll_wait", e.call());
                assertThrows(IllegalArgumentException.class, () -> Epoll.await(ep, a.allocate(4), 0));
            }
        } finally {
            Libc.close(ep);
        }
        NativeException e = assertThrows(NativeException.class, () -> Epoll.create(-1));
        assertEquals("epoll_create1", e.call());
        assertEquals(Errno.EINVAL, e.errno());
    }
}
