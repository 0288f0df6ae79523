package io.sandboxd.ffi;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.List;

/**
 * Starting and reaping child processes: glibc's {@code posix_spawn} with file actions and attributes,
 * {@code waitpid}, {@code kill} and {@code pidfd_open}. Constants and the sizes of the opaque spawn types are
 * checked against the system headers by {@code SpawnHeadersTest}.
 *
 * <p>Why not {@link ProcessBuilder}: it cannot give a child a controlling terminal, and it reports a death by
 * signal N as exit code 128+N, so "killed" and "exited with 137" look the same. Here the caller gets the raw wait
 * status, and {@code POSIX_SPAWN_SETSID} plus an open of the terminal in the file actions makes a pty slave the
 * child's controlling terminal (glibc runs setsid before the file actions).
 *
 * <p>The {@code posix_spawn*} functions return an error number instead of setting errno.
 */
public final class Spawn {
    // <spawn.h>
    public static final int POSIX_SPAWN_RESETIDS = 0x01;
    public static final int POSIX_SPAWN_SETPGROUP = 0x02;
    public static final int POSIX_SPAWN_SETSIGDEF = 0x04;
    public static final int POSIX_SPAWN_SETSIGMASK = 0x08;
    public static final int POSIX_SPAWN_SETSID = 0x80;
    // <sys/wait.h>, <signal.h>, <sys/syscall.h>
    public static final int WNOHANG = 1;
    public static final int SIGHUP = 1;
    public static final int SIGINT = 2;
    public static final int SIGKILL = 9;
    public static final int SIGTERM = 15;
    public static final long SYS_pidfd_open = 434;

    /** Opaque glibc types, as sized (and aligned) by the headers. */
    public static final MemoryLayout POSIX_SPAWN_FILE_ACTIONS_T =
            MemoryLayout.sequenceLayout(10, JAVA_LONG).withName("posix_spawn_file_actions_t");
    public static final MemoryLayout POSIX_SPAWNATTR_T =
            MemoryLayout.sequenceLayout(42, JAVA_LONG).withName("posix_spawnattr_t");
    public static final MemoryLayout SIGSET_T = MemoryLayout.sequenceLayout(16, JAVA_LONG).withName("sigset_t");

    private static final MethodHandle POSIX_SPAWN = Native.downcall("posix_spawn",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS));
    private static final MethodHandle FA_INIT = Native.downcall("posix_spawn_file_actions_init",
            FunctionDescriptor.of(JAVA_INT, ADDRESS));
    private static final MethodHandle FA_DESTROY = Native.downcall("posix_spawn_file_actions_destroy",
            FunctionDescriptor.of(JAVA_INT, ADDRESS));
    private static final MethodHandle FA_ADDDUP2 = Native.downcall("posix_spawn_file_actions_adddup2",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT));
    private static final MethodHandle FA_ADDOPEN = Native.downcall("posix_spawn_file_actions_addopen",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT));
    private static final MethodHandle FA_ADDCHDIR = Native.downcall("posix_spawn_file_actions_addchdir_np",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
    private static final MethodHandle FA_ADDCLOSEFROM = Native.downcall("posix_spawn_file_actions_addclosefrom_np",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle ATTR_INIT = Native.downcall("posix_spawnattr_init",
            FunctionDescriptor.of(JAVA_INT, ADDRESS));
    private static final MethodHandle ATTR_DESTROY = Native.downcall("posix_spawnattr_destroy",
            FunctionDescriptor.of(JAVA_INT, ADDRESS));
    private static final MethodHandle ATTR_SETFLAGS = Native.downcall("posix_spawnattr_setflags",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_SHORT));
    private static final MethodHandle ATTR_SETSIGMASK = Native.downcall("posix_spawnattr_setsigmask",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
    private static final MethodHandle ATTR_SETSIGDEFAULT = Native.downcall("posix_spawnattr_setsigdefault",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
    private static final MethodHandle SIGEMPTYSET = Native.downcall("sigemptyset", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    private static final MethodHandle SIGFILLSET = Native.downcall("sigfillset", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    private static final MethodHandle WAITPID = Native.downcallErrno("waitpid",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle KILL = Native.downcallErrno("kill", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));

    private Spawn() {
    }

    /**
     * What to start.
     *
     * @param path                the executable (absolute; no PATH search)
     * @param argv                argv, argv[0] included
     * @param env                 {@code NAME=value} entries, the complete environment
     * @param cwd                 working directory, or null to inherit
     * @param stdin               parent fd that becomes the child's fd 0 (ignored with a terminal)
     * @param stdout              parent fd for fd 1 (ignored with a terminal)
     * @param stderr              parent fd for fd 2 (ignored with a terminal)
     * @param controllingTerminal a tty path (a pty slave) that becomes fds 0-2 and the controlling terminal of
     *                            the child's new session; null for none
     */
    public record Request(String path, List<String> argv, List<String> env, String cwd, int stdin, int stdout,
                          int stderr, String controllingTerminal) {
    }

    /**
     * Starts {@code r} with every signal at its default disposition and none blocked, and no fd of the parent
     * above 2 (closefrom). Always in a new session (so a signal to the process group reaches the whole job and
     * the child cannot touch envd's terminal, if any). Returns the pid.
     */
    public static int spawn(Request r) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment fa = a.allocate(POSIX_SPAWN_FILE_ACTIONS_T);
            MemorySegment attr = a.allocate(POSIX_SPAWNATTR_T);
            check("posix_spawn_file_actions_init", (int) FA_INIT.invokeExact(fa));
            try {
                check("posix_spawnattr_init", (int) ATTR_INIT.invokeExact(attr));
                try {
                    MemorySegment none = a.allocate(SIGSET_T);
                    MemorySegment all = a.allocate(SIGSET_T);
                    check("sigemptyset", (int) SIGEMPTYSET.invokeExact(none));
                    check("sigfillset", (int) SIGFILLSET.invokeExact(all));
                    check("posix_spawnattr_setsigmask", (int) ATTR_SETSIGMASK.invokeExact(attr, none));
                    check("posix_spawnattr_setsigdefault", (int) ATTR_SETSIGDEFAULT.invokeExact(attr, all));
                    short flags = (short) (POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSID);
                    check("posix_spawnattr_setflags", (int) ATTR_SETFLAGS.invokeExact(attr, flags));

                    if (r.controllingTerminal() != null) {
                        // opened after setsid by a session leader without O_NOCTTY: it becomes the controlling tty
                        check("posix_spawn_file_actions_addopen", (int) FA_ADDOPEN.invokeExact(fa, 0,
                                a.allocateFrom(r.controllingTerminal()), Libc.O_RDWR, 0));
                        check("posix_spawn_file_actions_adddup2", (int) FA_ADDDUP2.invokeExact(fa, 0, 1));
                        check("posix_spawn_file_actions_adddup2", (int) FA_ADDDUP2.invokeExact(fa, 0, 2));
                    } else {
                        check("posix_spawn_file_actions_adddup2", (int) FA_ADDDUP2.invokeExact(fa, r.stdin(), 0));
                        check("posix_spawn_file_actions_adddup2", (int) FA_ADDDUP2.invokeExact(fa, r.stdout(), 1));
                        check("posix_spawn_file_actions_adddup2", (int) FA_ADDDUP2.invokeExact(fa, r.stderr(), 2));
                    }
                    check("posix_spawn_file_actions_addclosefrom_np", (int) FA_ADDCLOSEFROM.invokeExact(fa, 3));
                    if (r.cwd() != null) {
                        check("posix_spawn_file_actions_addchdir_np",
                                (int) FA_ADDCHDIR.invokeExact(fa, a.allocateFrom(r.cwd())));
                    }
                    MemorySegment pid = a.allocate(JAVA_INT);
                    int err = (int) POSIX_SPAWN.invokeExact(pid, a.allocateFrom(r.path()), fa, attr,
                            strings(a, r.argv()), strings(a, r.env()));
                    if (err != 0) {
                        throw new NativeException("posix_spawn", err, r.path());
                    }
                    return pid.get(JAVA_INT, 0);
                } finally {
                    int ignored = (int) ATTR_DESTROY.invokeExact(attr);
                }
            } finally {
                int ignored = (int) FA_DESTROY.invokeExact(fa);
            }
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /**
     * {@code waitpid(pid, &status, options)}: the raw wait status, or -1 when {@code WNOHANG} found the child still
     * running.
     */
    public static int waitpid(int pid, int options) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment status = a.allocate(JAVA_INT);
            MemorySegment err = Native.errnoBuffer();
            int r;
            do {
                r = (int) WAITPID.invokeExact(err, pid, status, options);
            } while (r < 0 && Native.errno(err) == Errno.EINTR);
            if (r < 0) {
                throw new NativeException("waitpid", Native.errno(err), "pid " + pid);
            }
            return r == 0 ? -1 : status.get(JAVA_INT, 0);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** {@code kill(pid, sig)}; returns 0 or {@code -errno} (ESRCH for a process already gone is normal). */
    public static int killRaw(int pid, int signal) {
        try {
            MemorySegment err = Native.errnoBuffer();
            int r = (int) KILL.invokeExact(err, pid, signal);
            return r < 0 ? -Native.errno(err) : 0;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** A pidfd for {@code pid} (readable in poll once the process exits), close-on-exec. */
    public static int pidfdOpen(int pid) {
        long r = Libc.syscallRaw(SYS_pidfd_open, pid, 0, 0);
        if (r < 0) {
            throw new NativeException("pidfd_open", (int) -r, "pid " + pid);
        }
        return (int) r;
    }

    // ---- wait status (the <sys/wait.h> macros) ------------------------------------------------------------------

    public static boolean exited(int status) {
        return (status & 0x7f) == 0;
    }

    public static int exitStatus(int status) {
        return (status >> 8) & 0xff;
    }

    public static boolean signaled(int status) {
        return ((byte) ((status & 0x7f) + 1) >> 1) > 0;
    }

    public static int termSignal(int status) {
        return status & 0x7f;
    }

    public static boolean coreDumped(int status) {
        return (status & 0x80) != 0;
    }

    private static MemorySegment strings(Arena a, List<String> values) {
        MemorySegment array = a.allocate(ADDRESS, values.size() + 1);
        for (int i = 0; i < values.size(); i++) {
            array.setAtIndex(ADDRESS, i, a.allocateFrom(values.get(i)));
        }
        array.setAtIndex(ADDRESS, values.size(), MemorySegment.NULL);
        return array;
    }

    private static void check(String call, int result) {
        if (result != 0) {
            throw new NativeException(call, result);
        }
    }
}
