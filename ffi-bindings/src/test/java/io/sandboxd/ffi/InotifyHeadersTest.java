package io.sandboxd.ffi;

import io.sandboxd.ffi.headers.HeaderCheck;
import org.junit.jupiter.api.Test;

class InotifyHeadersTest {
    @Test
    void inotifyMatchesTheSystemHeaders() throws Exception {
        new HeaderCheck("inotify")
                .struct("inotify_event", Inotify.INOTIFY_EVENT)
                .constant("inotify_event_name_offset", Inotify.NAME_OFFSET)
                .constant("IN_ACCESS", Inotify.IN_ACCESS).constant("IN_MODIFY", Inotify.IN_MODIFY)
                .constant("IN_ATTRIB", Inotify.IN_ATTRIB).constant("IN_CLOSE_WRITE", Inotify.IN_CLOSE_WRITE)
                .constant("IN_CLOSE_NOWRITE", Inotify.IN_CLOSE_NOWRITE).constant("IN_OPEN", Inotify.IN_OPEN)
                .constant("IN_MOVED_FROM", Inotify.IN_MOVED_FROM).constant("IN_MOVED_TO", Inotify.IN_MOVED_TO)
                .constant("IN_CREATE", Inotify.IN_CREATE).constant("IN_DELETE", Inotify.IN_DELETE)
                .constant("IN_DELETE_SELF", Inotify.IN_DELETE_SELF).constant("IN_MOVE_SELF", Inotify.IN_MOVE_SELF)
                .constant("IN_CLOSE", Inotify.IN_CLOSE).constant("IN_MOVE", Inotify.IN_MOVE)
                .constant("IN_ALL_EVENTS", Inotify.IN_ALL_EVENTS)
                .constant("IN_UNMOUNT", Inotify.IN_UNMOUNT).constant("IN_Q_OVERFLOW", Inotify.IN_Q_OVERFLOW)
                .constant("IN_IGNORED", Inotify.IN_IGNORED).constant("IN_ISDIR", Inotify.IN_ISDIR)
                .constant("IN_ONLYDIR", Inotify.IN_ONLYDIR).constant("IN_DONT_FOLLOW", Inotify.IN_DONT_FOLLOW)
                .constant("IN_EXCL_UNLINK", Inotify.IN_EXCL_UNLINK).constant("IN_MASK_CREATE", Inotify.IN_MASK_CREATE)
                .constant("IN_MASK_ADD", Inotify.IN_MASK_ADD)
                // an unsigned 32-bit mask in C: compare it as such
                .constant("IN_ONESHOT", Integer.toUnsignedLong(Inotify.IN_ONESHOT))
                .constant("IN_CLOEXEC", Inotify.IN_CLOEXEC).constant("IN_NONBLOCK", Inotify.IN_NONBLOCK)
                .verify();
    }
}
