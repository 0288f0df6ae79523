package io.sandboxd.daemon.store;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** A Unix account, looked up with {@code getent} and created with {@code useradd} (Debian's passwd package). */
record OsUser(String name, int uid, String group, int gid) {

    /** Finds {@code name}, creating it as a system user without home or login shell when it does not exist. */
    static OsUser ensureSystemUser(String name) throws IOException, InterruptedException {
        OsUser existing = lookup(name);
        if (existing != null) {
            return existing;
        }
        Run r = run(List.of("useradd", "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
                "--shell", "/usr/sbin/nologin", "--comment", "sandboxd embedded PostgreSQL", name));
        // 9: created meanwhile by another process.
        if (r.status != 0 && r.status != 9) {
            throw new IOException("cannot create system user " + name + " for the embedded PostgreSQL (useradd exit "
                    + r.status + "): " + r.output.strip() + "; create it by hand or pass --database-url");
        }
        OsUser created = lookup(name);
        if (created == null) {
            throw new IOException("user " + name + " was created but getent cannot find it");
        }
        return created;
    }

    static OsUser lookup(String name) throws IOException, InterruptedException {
        Run r = run(List.of("getent", "passwd", name));
        if (r.status != 0) {
            return null;
        }
        String[] f = r.output.strip().split(":");
        int gid = Integer.parseInt(f[3]);
        Run g = run(List.of("getent", "group", Integer.toString(gid)));
        String group = g.status == 0 ? g.output.strip().split(":")[0] : name;
        return new OsUser(f[0], Integer.parseInt(f[2]), group, gid);
    }

    private record Run(int status, String output) {}

    private static Run run(List<String> cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(30, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException(String.join(" ", cmd) + " did not finish");
        }
        return new Run(p.exitValue(), out);
    }
}
