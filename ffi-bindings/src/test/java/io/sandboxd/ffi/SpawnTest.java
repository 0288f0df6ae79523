package io.sandboxd.ffi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

class SpawnTest {
    private static final List<String> ENV = List.of("PATH=/usr/bin:/bin");

    @Test
    void exitStatusIsReportedAsExited() {
        int[] out = Libc.pipe2(Libc.O_CLOEXEC);
        try {
            int pid = Spawn.spawn(new Spawn.Request("/bin/sh", List.of("sh", "-c", "echo hi; exit 3"), ENV, "/",
                    Libc.open("/dev/null", Libc.O_RDONLY | Libc.O_CLOEXEC), out[1], out[1], null));
            Libc.close(out[1]);
            out[1] = -1;
            int status = Spawn.waitpid(pid, 0);
            assertTrue(Spawn.exited(status));
            assertFalse(Spawn.signaled(status));
            assertEquals(3, Spawn.exitStatus(status));
            assertEquals("hi\n", readAll(out[0]));
        } finally {
            closeAll(out);
        }
    }

    @Test
    void deathBySignalIsNotAnExitCode() {
        int devnull = Libc.open("/dev/null", Libc.O_RDWR | Libc.O_CLOEXEC);
        try {
            int pid = Spawn.spawn(new Spawn.Request("/bin/sleep", List.of("sleep", "30"), ENV, null,
                    devnull, devnull, devnull, null));
            assertEquals(-1, Spawn.waitpid(pid, Spawn.WNOHANG), "still running");
            assertEquals(0, Spawn.killRaw(pid, Spawn.SIGKILL));
            int status = Spawn.waitpid(pid, 0);
            assertTrue(Spawn.signaled(status));
            assertFalse(Spawn.exited(status));
            assertEquals(Spawn.SIGKILL, Spawn.termSignal(status));
            assertEquals(-Errno.ESRCH, Spawn.killRaw(pid, 0), "reaped");
        } finally {
            Libc.close(devnull);
        }
    }

    @Test
    void childGetsThePtyAsControllingTerminalAndNoParentFds() {
        try (Pty.Pair pty = Pty.openPty()) {
            int pid = Spawn.spawn(new Spawn.Request("/bin/sh",
                    List.of("sh", "-c", "tty; ls /proc/self/fd | tr '\\n' ' '; test -t 0 && echo ctty=$(ps -o tty= -p $$)"),
                    ENV, "/", -1, -1, -1, pty.slavePath()));
            int status = Spawn.waitpid(pid, 0);
            assertEquals(0, Spawn.exitStatus(status));
            String out = readUntilEio(pty.masterFd());
            assertTrue(out.contains(pty.slavePath()), out);
            // fds 0-2 and the one ls opens; nothing leaked from the JVM
            assertTrue(out.contains("0 1 2 3 ctty="), out);
            assertTrue(out.contains("ctty=pts/" + pty.slavePath().substring("/dev/pts/".length())), out);
        }
    }

    @Test
    void missingExecutableIsANamedError() {
        NativeException e = assertThrows(NativeException.class, () -> Spawn.spawn(new Spawn.Request(
                "/nonexistent/bin", List.of("x"), ENV, null, 0, 1, 2, null)));
        assertEquals(Errno.ENOENT, e.errno());
        assertTrue(e.getMessage().contains("posix_spawn"), e.getMessage());
    }

    @Test
    void pidfdBecomesReadableWhenTheChildExits() {
        int devnull = Libc.open("/dev/null", Libc.O_RDWR | Libc.O_CLOEXEC);
        try (Arena a = Arena.ofConfined()) {
            int pid = Spawn.spawn(new Spawn.Request("/bin/true", List.of("true"), ENV, null, devnull, devnull, devnull, null));
            int pidfd = Spawn.pidfdOpen(pid);
            try {
                MemorySegment pfd = a.allocate(Libc.POLLFD);
                pfd.set(java.lang.foreign.ValueLayout.JAVA_INT, 0, pidfd);
                pfd.set(java.lang.foreign.ValueLayout.JAVA_SHORT, 4, Libc.POLLIN);
                assertEquals(1, Libc.pollRaw(pfd, 1, 5000));
                assertEquals(0, Spawn.exitStatus(Spawn.waitpid(pid, Spawn.WNOHANG)));
            } finally {
                Libc.close(pidfd);
            }
        } finally {
            Libc.close(devnull);
        }
    }

    /** Everything readable from {@code fd} until end of file, as UTF-8 (the child output pipes of these tests). */
    static String readAll(int fd) {
        StringBuilder sb = new StringBuilder();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(4096);
            long n;
            while ((n = Libc.read(fd, buf)) > 0) {
                sb.append(new String(buf.asSlice(0, n).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8));
            }
        }
        return sb.toString();
    }

    /** A pty master reads EIO once every slave fd is closed. */
    private static String readUntilEio(int fd) {
        StringBuilder sb = new StringBuilder();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(4096);
            long n;
            while ((n = Libc.readRaw(fd, buf, buf.byteSize())) > 0) {
                sb.append(new String(buf.asSlice(0, n).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8));
            }
        }
        return sb.toString();
    }

    private static void closeAll(int[] fds) {
        for (int fd : fds) {
            if (fd >= 0) {
                Libc.close(fd);
            }
        }
    }
}
