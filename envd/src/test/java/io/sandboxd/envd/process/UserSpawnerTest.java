package io.sandboxd.envd.process;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.sandboxd.envd.auth.UserAccount;
import io.sandboxd.envd.filesystem.TestUsers;
import io.sandboxd.ffi.Errno;
import io.sandboxd.ffi.Libc;
import io.sandboxd.ffi.NativeException;
import io.sandboxd.ffi.Pty;
import io.sandboxd.ffi.Spawn;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Children started as other users by switching one thread's credentials: ids, groups, capabilities, cwd, tty, fds. */
class UserSpawnerTest {
    private static final List<String> ENV = List.of("PATH=/usr/bin:/bin");
    /** Ids no account on the machine has. */
    private static final UserAccount TESTER = new UserAccount("tester", 4242, 4243, Path.of("/"), "/bin/sh",
            new int[] {4243, 4244, 4245});
    private static final UserAccount OTHER = new UserAccount("other", 4300, 4300, Path.of("/"), "/bin/sh",
            new int[] {4300});

    @TempDir
    Path dir;
    private UserSpawner spawner;
    private final ExecutorService fallback = Executors.newCachedThreadPool();

    @BeforeEach
    void setUp() throws IOException {
        assumeTrue(Files.readString(Path.of("/proc/self/status")).lines().anyMatch(l -> l.matches("Uid:\\s+0\\s.*")),
                "needs root: the spawner switches a thread to other users");
        spawner = new UserSpawner(fallback);
    }

    @AfterEach
    void tearDown() {
        if (spawner != null) {
            spawner.close();
        }
        fallback.shutdownNow();
    }

    @Test
    void childHasTheUsersIdsAndGroupsAndNoCapabilities() throws Exception {
        Map<String, String> child = status(run(TESTER, "/bin/cat", "/proc/self/status"));
        assertEquals("4242 4242 4242 4242", child.get("Uid"), "real, effective, saved and fs uid");
        assertEquals("4243 4243 4243 4243", child.get("Gid"));
        assertEquals("4243 4244 4245", child.get("Groups"));
        for (String set : List.of("CapInh", "CapPrm", "CapEff", "CapAmb")) {
            assertEquals(0L, Long.parseUnsignedLong(child.get(set), 16), set + " must be empty");
        }
        assertEquals(status(Files.readString(Path.of("/proc/self/status"))).get("CapBnd"), child.get("CapBnd"));
        assertSpawnerThreadsAreRoot();
    }

    @Test
    void cwdIsEnteredAsTheUser() throws Exception {
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx--x--x"));
        Path rootOnly = Files.createDirectories(dir.resolve("root-only"));
        Files.setPosixFilePermissions(rootOnly, PosixFilePermissions.fromString("rwx------"));
        NativeException e = assertThrows(NativeException.class, () -> spawner.spawn(
                new Spawn.Request("/bin/true", List.of("true"), ENV, rootOnly.toString(), 0, 1, 2, null), TESTER));
        assertEquals(Errno.EACCES, e.errno());
        assertEquals("posix_spawn", e.call());
        // a failure while switched leaves the thread root and usable
        assertSpawnerThreadsAreRoot();
        assertEquals("4242\n", run(TESTER, "/usr/bin/id", "-u"));
        Files.setPosixFilePermissions(rootOnly, PosixFilePermissions.fromString("rwx-----x"));
        assertEquals(rootOnly + "\n", runIn(TESTER, rootOnly, "/bin/pwd"));
    }

    @Test
    void ptySlaveBecomesTheUsersControllingTerminal() throws Exception {
        try (Pty.Pair pty = Pty.openPty()) {
            Files.setAttribute(Path.of(pty.slavePath()), "unix:uid", TESTER.uid());
            int pid = spawner.spawn(new Spawn.Request("/bin/sh", List.of("sh", "-c",
                    "id -u; test -t 0 && echo ctty=$(ps -o tty= -p $$); ls /proc/self/fd | tr '\\n' ' '"),
                    ENV, "/", -1, -1, -1, pty.slavePath()), TESTER);
            assertEquals(0, Spawn.exitStatus(Spawn.waitpid(pid, 0)));
            String out = readAll(pty.masterFd()).replace("\r", "");
            assertTrue(out.startsWith("4242\nctty=pts/" + pty.slavePath().substring("/dev/pts/".length())), out);
            assertTrue(out.contains("\n0 1 2 3 "), "only the tty and ls's own fd: " + out);
        }
    }

    @Test
    void concurrentCallersGetTheirOwnUser() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(6);
        try {
            List<Future<String>> got = new ArrayList<>();
            for (int i = 0; i < 60; i++) {
                UserAccount u = i % 2 == 0 ? TESTER : OTHER;
                got.add(pool.submit(() -> u.uid() + ":" + run(u, "/usr/bin/id", "-u").strip()));
            }
            for (Future<String> f : got) {
                String[] pair = f.get().split(":");
                assertEquals(pair[0], pair[1]);
            }
        } finally {
            pool.shutdownNow();
        }
        assertSpawnerThreadsAreRoot();
    }

    @Test
    void noFdsLeakAcrossManySpawns() throws Exception {
        run(TESTER, "/bin/true");
        long before = TestUsers.openFds();
        for (int i = 0; i < 200; i++) {
            run(i % 2 == 0 ? TESTER : OTHER, "/bin/true");
        }
        assertThrows(NativeException.class, () -> run(TESTER, "/no/such/program"));
        assertEquals(before, TestUsers.openFds());
    }

    @Test
    void tasksRunOnTheSpawnerThreadAndSpawnThereDirectly() throws Exception {
        java.util.concurrent.CompletableFuture<String> got = new java.util.concurrent.CompletableFuture<>();
        spawner.execute(() -> {
            try {
                got.complete(Thread.currentThread().getName() + " " + spawner.isCurrentThread() + " "
                        + run(OTHER, "/usr/bin/id", "-u").strip());
            } catch (Throwable e) {
                got.completeExceptionally(e);
            }
        });
        assertEquals("envd-spawner true " + OTHER.uid(), got.get());
        assertTrue(!spawner.isCurrentThread());
    }

    @Test
    void closedSpawnerRefusesClearly() throws Exception {
        spawner.close();
        IllegalStateException e = null;
        for (int i = 0; i < 100 && e == null; i++) {
            try {
                run(TESTER, "/bin/true");
                Thread.sleep(10); // the thread may not have seen the interrupt yet
            } catch (IllegalStateException refused) {
                e = refused;
            }
        }
        assertTrue(e != null && e.getMessage().contains("envd cannot start processes as other users: envd is shutting down"),
                String.valueOf(e));
        // tasks still run, on the fallback
        java.util.concurrent.CompletableFuture<Boolean> ran = new java.util.concurrent.CompletableFuture<>();
        spawner.execute(() -> ran.complete(spawner.isCurrentThread()));
        assertEquals(false, ran.get());
    }

    // ---- helpers -----------------------------------------------------------------------------------------------

    private String run(UserAccount user, String... argv) throws Exception {
        return runIn(user, Path.of("/"), argv);
    }

    /** Runs argv as user in cwd, returns stdout+stderr after checking the exit status is 0. */
    private String runIn(UserAccount user, Path cwd, String... argv) throws Exception {
        int[] out = Libc.pipe2(Libc.O_CLOEXEC);
        int devnull = Libc.open("/dev/null", Libc.O_RDONLY | Libc.O_CLOEXEC);
        try {
            int pid = spawner.spawn(new Spawn.Request(argv[0], List.of(argv), ENV, cwd.toString(), devnull, out[1],
                    out[1], null), user);
            Libc.close(out[1]);
            out[1] = -1;
            String text = readAll(out[0]);
            int status = Spawn.waitpid(pid, 0);
            assertEquals(0, Spawn.exitStatus(status), text);
            return text;
        } finally {
            Libc.close(devnull);
            Libc.close(out[0]);
            if (out[1] >= 0) {
                Libc.close(out[1]);
            }
        }
    }

    /** Every spawner thread of this JVM is back to root between spawns (read from /proc, not from Java state). */
    private static void assertSpawnerThreadsAreRoot() throws IOException {
        int found = 0;
        try (Stream<Path> tasks = Files.list(Path.of("/proc/self/task"))) {
            for (Path t : tasks.toList()) {
                String comm;
                String st;
                try {
                    comm = Files.readString(t.resolve("comm")).strip();
                    st = Files.readString(t.resolve("status"));
                } catch (IOException gone) {
                    continue;
                }
                if (comm.equals("envd-spawner")) {
                    found++;
                    Map<String, String> s = status(st);
                    assertEquals("0 0 0 0", s.get("Uid"), t.toString());
                    assertEquals("0 0 0 0", s.get("Gid"), t.toString());
                    assertEquals(status(Files.readString(Path.of("/proc/self/status"))).get("Groups"), s.get("Groups"));
                }
            }
        }
        assertTrue(found > 0, "no envd-spawner thread found");
    }

    private static Map<String, String> status(String text) {
        return text.lines().filter(l -> l.indexOf(':') > 0).collect(Collectors.toMap(
                l -> l.substring(0, l.indexOf(':')), l -> l.substring(l.indexOf(':') + 1).strip().replaceAll("\\s+", " ")));
    }

    /** Reads to EOF (a pipe) or EIO (a pty master whose slave is closed everywhere). */
    private static String readAll(int fd) {
        StringBuilder sb = new StringBuilder();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(4096);
            long n;
            while ((n = Libc.readRaw(fd, buf, buf.byteSize())) > 0) {
                sb.append(new String(buf.asSlice(0, n).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8));
            }
        }
        return sb.toString();
    }
}
