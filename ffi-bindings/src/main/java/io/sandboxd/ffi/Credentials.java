package io.sandboxd.ffi;

import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * The calling <em>thread's</em> user ids, group ids and supplementary groups, through the raw
 * {@code setresuid}/{@code setresgid}/{@code setgroups} system calls (and their getters).
 *
 * <p>Linux keeps credentials per thread. glibc's {@code setuid}/{@code setresuid}/{@code setgroups} wrappers emulate
 * POSIX's process-wide semantics by signalling every thread to make the same call; {@code syscall(SYS_setresuid, ...)}
 * skips that and changes only the caller. A child started by {@code posix_spawn} (a vfork-style clone) copies the
 * calling thread's credentials, so a root thread that switches to a user, spawns and switches back starts the child
 * as that user without an extra exec through a helper such as {@code setpriv}. Keeping the saved uid at 0 while
 * switched is what lets the thread switch back; {@code execve} then sets the child's saved uid to its effective uid.
 *
 * <p>Syscall numbers are checked against {@code <sys/syscall.h>} by {@code CredentialsHeadersTest}.
 */
public final class Credentials {
    // <sys/syscall.h>, x86_64
    public static final long SYS_getgroups = 115;
    public static final long SYS_setgroups = 116;
    public static final long SYS_setresuid = 117;
    public static final long SYS_getresuid = 118;
    public static final long SYS_setresgid = 119;
    public static final long SYS_getresgid = 120;
    /** {@code <linux/limits.h>}: the kernel's limit on supplementary groups. */
    public static final int NGROUPS_MAX = 65536;

    private Credentials() {
    }

    /** A thread's real/effective/saved uids and gids and its supplementary groups. */
    public record ThreadIds(int uid, int euid, int suid, int gid, int egid, int sgid, int[] groups) {
        public ThreadIds {
            groups = groups.clone();
        }

        @Override
        public int[] groups() {
            return groups.clone();
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof ThreadIds t && t.uid == uid && t.euid == euid && t.suid == suid && t.gid == gid
                    && t.egid == egid && t.sgid == sgid && Arrays.equals(t.groups, groups);
        }

        @Override
        public int hashCode() {
            return uid * 31 + gid;
        }

        @Override
        public String toString() {
            return "uid " + uid + "/" + euid + "/" + suid + " gid " + gid + "/" + egid + "/" + sgid
                    + " groups " + Arrays.toString(groups);
        }
    }

    /** The calling thread's ids ({@code getresuid}, {@code getresgid}, {@code getgroups}). */
    public static ThreadIds ofThisThread() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment ids = a.allocate(JAVA_INT, 6);
            check("getresuid", Libc.syscallRaw(SYS_getresuid, ids.address(), ids.address() + 4, ids.address() + 8));
            check("getresgid", Libc.syscallRaw(SYS_getresgid, ids.address() + 12, ids.address() + 16,
                    ids.address() + 20));
            int n = (int) check("getgroups", Libc.syscallRaw(SYS_getgroups, 0, 0, 0));
            MemorySegment groups = a.allocate(JAVA_INT, Math.max(1, n));
            int got = (int) check("getgroups", Libc.syscallRaw(SYS_getgroups, n, groups.address(), 0));
            int[] v = ids.toArray(JAVA_INT);
            return new ThreadIds(v[0], v[1], v[2], v[3], v[4], v[5], groups.asSlice(0, got * 4L).toArray(JAVA_INT));
        }
    }

    /** {@code setgroups} for the calling thread only; needs CAP_SETGID. */
    public static void setThreadGroups(int[] groups) {
        if (groups.length > NGROUPS_MAX) {
            throw new IllegalArgumentException(groups.length + " supplementary groups, the kernel allows " + NGROUPS_MAX);
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment list = a.allocate(JAVA_INT, Math.max(1, groups.length));
            MemorySegment.copy(groups, 0, list, JAVA_INT, 0, groups.length);
            check("setgroups", Libc.syscallRaw(SYS_setgroups, groups.length, list.address(), 0));
        }
    }

    /** {@code setresuid} for the calling thread only. */
    public static void setThreadResuid(int uid, int euid, int suid) {
        check("setresuid", Libc.syscallRaw(SYS_setresuid, Integer.toUnsignedLong(uid), Integer.toUnsignedLong(euid),
                Integer.toUnsignedLong(suid)));
    }

    /** {@code setresgid} for the calling thread only. */
    public static void setThreadResgid(int gid, int egid, int sgid) {
        check("setresgid", Libc.syscallRaw(SYS_setresgid, Integer.toUnsignedLong(gid), Integer.toUnsignedLong(egid),
                Integer.toUnsignedLong(sgid)));
    }

    private static long check(String call, long r) {
        if (r < 0) {
            throw new NativeException(call, (int) -r);
        }
        return r;
    }
}
