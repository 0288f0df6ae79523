package io.sandboxd.envd.filesystem;

import io.netty.handler.codec.http.EmptyHttpHeaders;
import io.sandboxd.envd.EnvdState;
import io.sandboxd.envd.auth.EnvdAuth;
import io.sandboxd.envd.auth.UserAccount;
import io.sandboxd.envd.auth.UserDatabase;
import io.sandboxd.envd.connect.CallContext;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A throwaway user database for tests: {@code root} and {@code tester} (uid/gid 4242, an id no real account on the
 * machine has, home under the test directory), so ownership can be checked without touching /etc/passwd.
 */
public final class TestUsers {
    public static final int TESTER_UID = 4242;

    public final Path home;
    public final UserDatabase users;
    public final EnvdState state;
    public final EnvdAuth auth;

    public TestUsers(Path dir) throws IOException {
        home = Files.createDirectories(dir.resolve("home/tester"));
        Path passwd = Files.writeString(dir.resolve("passwd"), "root:x:0:0:root:/root:/bin/bash\n"
                + "tester:x:4242:4242::" + home + ":/bin/sh\n");
        Path group = Files.writeString(dir.resolve("group"), "root:x:0:\ntesters:x:4242:\n");
        users = new UserDatabase(passwd, group);
        state = new EnvdState("tester");
        auth = new EnvdAuth(state, users);
    }

    public UserAccount tester() {
        return users.byName("tester").orElseThrow();
    }

    public CallContext call(String procedure) {
        return new CallContext(procedure, tester(), Long.MAX_VALUE, EmptyHttpHeaders.INSTANCE);
    }

    public static int uid(Path p) throws IOException {
        return (Integer) Files.getAttribute(p, "unix:uid", java.nio.file.LinkOption.NOFOLLOW_LINKS);
    }

    public static int gid(Path p) throws IOException {
        return (Integer) Files.getAttribute(p, "unix:gid", java.nio.file.LinkOption.NOFOLLOW_LINKS);
    }

    public static long openFds() throws IOException {
        try (var s = Files.list(Path.of("/proc/self/fd"))) {
            return s.count();
        }
    }
}
