package io.sandboxd.ffi;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Per-thread credentials: one thread becomes a user, the rest of the process stays root. */
class CredentialsTest {
    private static final int CAP_SETUID = 7;
    /** Ids no account on the machine has. */
    private static final int UID = 4242;
    private static final int GID = 4243;
    private static final int[] GROUPS = {4243, 4244};

    @BeforeEach
    void needsRoot() {
        Privileges.assume(Privileges.has(CAP_SETUID) && Credentials.ofThisThread().uid() == 0,
                "switching thread credentials needs root");
    }

    @Test
    void switchingOneThreadLeavesTheProcessAlone() throws Exception {
        Credentials.ThreadIds home = Credentials.ofThisThread();
        List<Object> seen = TestThreads.onFreshPlatformThread(() -> {
            Credentials.setThreadGroups(GROUPS);
            Credentials.setThreadResgid(GID, GID, GID);
            Credentials.setThreadResuid(UID, UID, 0);
            Credentials.ThreadIds switched = Credentials.ofThisThread();
            Map<String, String> thread = status(Path.of("/proc/thread-self/status"));
            Map<String, String> leader = status(Path.of("/proc/self/status"));
            Credentials.setThreadResuid(home.uid(), home.euid(), home.suid());
            Credentials.setThreadResgid(home.gid(), home.egid(), home.sgid());
            Credentials.setThreadGroups(home.groups());
            return List.of(switched, thread.get("Uid"), thread.get("Groups"), leader.get("Uid"),
                    Credentials.ofThisThread());
        });
        assertEquals(new Credentials.ThreadIds(UID, UID, 0, GID, GID, GID, GROUPS), seen.get(0));
        assertEquals(UID + " " + UID + " 0 " + UID, seen.get(1), "the thread's fsuid follows its euid");
        assertEquals("4243 4244", seen.get(2));
        assertEquals("0 0 0 0", seen.get(3), "the other threads stay root");
        assertEquals(home, seen.get(4), "switched back");
        assertEquals(home, Credentials.ofThisThread());
    }

    @Test
    void aChildSpawnedWhileSwitchedIsTheUserWithoutCapabilities() throws Exception {
        Map<String, String> mine = status(Path.of("/proc/self/status"));
        Map<String, String> child = TestThreads.onFreshPlatformThread(() -> {
            Credentials.ThreadIds home = Credentials.ofThisThread();
            Prctl.clearAmbientCapabilities();
            int[] out = Libc.pipe2(Libc.O_CLOEXEC);
            int devnull = Libc.open("/dev/null", Libc.O_RDONLY | Libc.O_CLOEXEC);
            int pid;
            try {
                Credentials.setThreadGroups(GROUPS);
                Credentials.setThreadResgid(GID, GID, GID);
                Credentials.setThreadResuid(UID, UID, 0);
                try {
                    pid = Spawn.spawn(new Spawn.Request("/bin/cat", List.of("cat", "/proc/self/status"),
                            List.of("PATH=/usr/bin:/bin"), "/", devnull, out[1], out[1], null));
                } finally {
                    Credentials.setThreadResuid(home.uid(), home.euid(), home.suid());
                    Credentials.setThreadResgid(home.gid(), home.egid(), home.sgid());
                    Credentials.setThreadGroups(home.groups());
                }
                Libc.close(out[1]);
                out[1] = -1;
                String text = SpawnTest.readAll(out[0]);
                assertEquals(0, Spawn.exitStatus(Spawn.waitpid(pid, 0)));
                return parse(text);
            } finally {
                Libc.close(devnull);
                Libc.close(out[0]);
                if (out[1] >= 0) {
                    Libc.close(out[1]);
                }
            }
        });
        assertEquals(UID + "\t" + UID + "\t" + UID + "\t" + UID, child.get("UidRaw"), "exec made the saved uid the user's");
        assertEquals(GID + "\t" + GID + "\t" + GID + "\t" + GID, child.get("GidRaw"));
        assertEquals("4243 4244", child.get("Groups"));
        for (String set : List.of("CapInh", "CapPrm", "CapEff", "CapAmb")) {
            assertEquals(0L, Long.parseUnsignedLong(child.get(set), 16), set);
        }
        assertEquals(mine.get("CapBnd"), child.get("CapBnd"), "the bounding set is left as it was (as setpriv did)");
    }

    @Test
    void failuresNameTheCall() throws Exception {
        NativeException e = TestThreads.onFreshPlatformThread(() -> {
            // irreversible for this throwaway thread: no id is 0 any more
            Credentials.setThreadResuid(UID, UID, UID);
            return assertThrows(NativeException.class, () -> Credentials.setThreadResuid(0, 0, 0));
        });
        assertEquals("setresuid", e.call());
        assertEquals(Errno.EPERM, e.errno());
        assertThrows(IllegalArgumentException.class, () -> Credentials.setThreadGroups(new int[Credentials.NGROUPS_MAX + 1]));
    }

    private static Map<String, String> status(Path p) throws IOException {
        return parse(Files.readString(p));
    }

    /** /proc status lines; "Uid"/"Gid" with single spaces, and their raw tab-separated form as "UidRaw"/"GidRaw". */
    private static Map<String, String> parse(String status) {
        Map<String, String> m = status.lines().filter(l -> l.indexOf(':') > 0).collect(Collectors.toMap(
                l -> l.substring(0, l.indexOf(':')), l -> l.substring(l.indexOf(':') + 1).strip().replaceAll("\\s+", " ")));
        status.lines().filter(l -> l.startsWith("Uid:") || l.startsWith("Gid:"))
                .forEach(l -> m.put(l.substring(0, 3) + "Raw", l.substring(4).strip()));
        return m;
    }
}
