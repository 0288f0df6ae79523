package io.sandboxd.envd.auth;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sandboxd.envd.EnvdState;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.Base64;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class UserDatabaseTest {
    @TempDir
    Path dir;

    @Test
    void readsUsersWithPrimaryAndSupplementaryGroups() throws Exception {
        Path passwd = Files.writeString(dir.resolve("passwd"), """
                root:x:0:0:root:/root:/bin/bash
                # a comment
                user:x:1000:1000:E2B user:/home/user:/bin/bash
                broken:line
                nohome:x:1001:1001:::/bin/sh
                """);
        Path group = Files.writeString(dir.resolve("group"), """
                root:x:0:
                sudo:x:27:user,other
                user:x:1000:
                docker:x:999:user
                """);
        UserDatabase db = new UserDatabase(passwd, group);
        UserAccount u = db.byName("user").orElseThrow();
        assertEquals(1000, u.uid());
        assertEquals(1000, u.gid());
        assertEquals(Path.of("/home/user"), u.home());
        assertArrayEquals(new int[] {1000, 27, 999}, u.groups());
        assertEquals(Path.of("/"), db.byName("nohome").orElseThrow().home());
        assertTrue(db.byName("broken").isEmpty());
        assertTrue(db.byName("nobody-here").isEmpty());
        assertEquals("user", db.userName(1000));
        assertEquals("4242", db.userName(4242));
        assertEquals("sudo", db.groupName(27));
        assertEquals("31337", db.groupName(31337));

        // useradd while envd runs: picked up on the next lookup
        Files.writeString(passwd, Files.readString(passwd) + "late:x:1002:1002::/home/late:/bin/bash\n");
        Files.setLastModifiedTime(passwd, FileTime.fromMillis(System.currentTimeMillis() + 5000));
        assertEquals(1002, db.byName("late").orElseThrow().uid());
    }

    @Test
    void aFileReplacedWithinTheSameMtimeIsReread() throws Exception {
        FileTime when = FileTime.fromMillis(1_700_000_000_000L);
        Path passwd = Files.writeString(dir.resolve("passwd"), "user:x:1000:1000::/home/user:/bin/bash\n");
        Path group = Files.writeString(dir.resolve("group"), "");
        Files.setLastModifiedTime(passwd, when);
        UserDatabase db = new UserDatabase(passwd, group);
        assertEquals(1000, db.byName("user").orElseThrow().uid());

        // same size and mtime, new inode (written beside and renamed over, as useradd and vipw do)
        Path next = Files.writeString(dir.resolve("passwd+"), "user:x:1001:1000::/home/user:/bin/bash\n");
        Files.setLastModifiedTime(next, when);
        Files.move(next, passwd, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        assertEquals(1001, db.byName("user").orElseThrow().uid());

        // same inode and mtime, other size (edited in place)
        Files.writeString(passwd, "user:x:10010:1000::/home/user:/bin/bash\n");
        Files.setLastModifiedTime(passwd, when);
        assertEquals(10010, db.byName("user").orElseThrow().uid());
    }

    @Test
    void basicAuthAndDefaultUser() throws Exception {
        Path passwd = Files.writeString(dir.resolve("passwd"), "root:x:0:0::/root:/bin/bash\nuser:x:1000:1000::/home/user:/bin/bash\n");
        Path group = Files.writeString(dir.resolve("group"), "");
        EnvdState state = new EnvdState("root");
        EnvdAuth auth = new EnvdAuth(state, new UserDatabase(passwd, group));
        assertEquals("user", EnvdAuth.basicAuthUser("Basic " + Base64.getEncoder().encodeToString("user:".getBytes())));
        assertEquals("user", EnvdAuth.basicAuthUser("basic " + Base64.getEncoder().encodeToString("user".getBytes())));
        assertEquals(null, EnvdAuth.basicAuthUser(null));
        assertThrows(IllegalArgumentException.class, () -> EnvdAuth.basicAuthUser("Bearer abc"));
        assertThrows(IllegalArgumentException.class, () -> EnvdAuth.basicAuthUser("Basic !!!"));
        assertEquals("root", auth.user(null).orElseThrow().name());
        assertEquals("root", auth.user("").orElseThrow().name());
        assertTrue(auth.user("ghost").isEmpty());

        UserAccount user = auth.user("user").orElseThrow();
        assertEquals(Path.of("/home/user"), auth.resolvePath("~", user));
        assertEquals(Path.of("/home/user/a/b"), auth.resolvePath("~/a/./b", user));
        assertEquals(Path.of("/home/user/rel"), auth.resolvePath("rel", user));
        assertEquals(Path.of("/etc"), auth.resolvePath("/tmp/../etc", user));
        state.update(s -> new EnvdState.Settings("tok", s.envVars(), "user", "/work"));
        assertEquals(Path.of("/work/rel"), auth.resolvePath("rel", user));
        assertEquals("user", auth.user(null).orElseThrow().name());
        assertTrue(auth.tokenAccepted("tok"));
        assertTrue(!auth.tokenAccepted("tok2") && !auth.tokenAccepted(null));
    }
}
