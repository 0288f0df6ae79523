/* epoll declarations bound by io.sandboxd.ffi.Epoll. */
#include "probe.h"
#include <sys/epoll.h>

int main(void) {
    /* packed on x86-64: the union sits at offset 4 */
    STRUCT(epoll_event) FIELD(epoll_event, events) FIELD(epoll_event, data)
    FIELD(epoll_event, data.ptr) FIELD(epoll_event, data.fd) FIELD(epoll_event, data.u32) FIELD(epoll_event, data.u64)

    CONST(EPOLL_CLOEXEC) CONST(EPOLL_CTL_ADD) CONST(EPOLL_CTL_DEL) CONST(EPOLL_CTL_MOD)
    CONST(EPOLLIN) CONST(EPOLLPRI) CONST(EPOLLOUT) CONST(EPOLLERR) CONST(EPOLLHUP) CONST(EPOLLRDHUP)
    CONST(EPOLLEXCLUSIVE) CONST(EPOLLONESHOT) CONST(EPOLLET)
    return 0;
}
