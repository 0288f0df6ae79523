package io.sandboxd.ffi;

import io.sandboxd.ffi.headers.HeaderCheck;
import org.junit.jupiter.api.Test;

class EpollHeadersTest {
    @Test
    void epollMatchesTheSystemHeaders() throws Exception {
        new HeaderCheck("epoll")
                .struct("epoll_event", Epoll.EPOLL_EVENT)
                .constant("EPOLL_CLOEXEC", Epoll.EPOLL_CLOEXEC).constant("EPOLL_CTL_ADD", Epoll.EPOLL_CTL_ADD)
                .constant("EPOLL_CTL_DEL", Epoll.EPOLL_CTL_DEL).constant("EPOLL_CTL_MOD", Epoll.EPOLL_CTL_MOD)
                .constant("EPOLLIN", Epoll.EPOLLIN).constant("EPOLLPRI", Epoll.EPOLLPRI)
                .constant("EPOLLOUT", Epoll.EPOLLOUT).constant("EPOLLERR", Epoll.EPOLLERR)
                .constant("EPOLLHUP", Epoll.EPOLLHUP).constant("EPOLLRDHUP", Epoll.EPOLLRDHUP)
                .constant("EPOLLEXCLUSIVE", Epoll.EPOLLEXCLUSIVE).constant("EPOLLONESHOT", Epoll.EPOLLONESHOT)
                // the C value is 1u << 31 (unsigned); Java keeps the same 32 bits in an int
                .constant("EPOLLET", Integer.toUnsignedLong(Epoll.EPOLLET))
                .verify();
    }
}
