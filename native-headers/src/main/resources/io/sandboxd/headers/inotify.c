/* <sys/inotify.h> declarations bound by io.sandboxd.ffi.Inotify. */
#include "probe.h"
#include <sys/inotify.h>

int main(void) {
    /* name[] is a flexible array member: its offset is the struct size, checked as Inotify.NAME_OFFSET. */
    STRUCT(inotify_event) FIELD(inotify_event, wd) FIELD(inotify_event, mask) FIELD(inotify_event, cookie)
    FIELD(inotify_event, len)
    printf("const inotify_event_name_offset %zu\n", offsetof(struct inotify_event, name));

    CONST(IN_ACCESS) CONST(IN_MODIFY) CONST(IN_ATTRIB) CONST(IN_CLOSE_WRITE) CONST(IN_CLOSE_NOWRITE) CONST(IN_OPEN)
    CONST(IN_MOVED_FROM) CONST(IN_MOVED_TO) CONST(IN_CREATE) CONST(IN_DELETE) CONST(IN_DELETE_SELF)
    CONST(IN_MOVE_SELF) CONST(IN_CLOSE) CONST(IN_MOVE) CONST(IN_ALL_EVENTS)
    CONST(IN_UNMOUNT) CONST(IN_Q_OVERFLOW) CONST(IN_IGNORED) CONST(IN_ISDIR)
    CONST(IN_ONLYDIR) CONST(IN_DONT_FOLLOW) CONST(IN_EXCL_UNLINK) CONST(IN_MASK_CREATE) CONST(IN_MASK_ADD)
    CONST(IN_ONESHOT)
    CONST(IN_CLOEXEC) CONST(IN_NONBLOCK)
    return 0;
}
