package io.sandboxd.envd.process;

import io.sandboxd.envd.EnvdState;
import io.sandboxd.envd.auth.EnvdAuth;
import io.sandboxd.envd.auth.UserAccount;
import io.sandboxd.envd.connect.ConnectCode;
import io.sandboxd.envd.connect.ConnectException;
import io.sandboxd.envd.proto.process.ProcessConfig;
import io.sandboxd.envd.proto.process.StartRequest;
import io.sandboxd.ffi.Errno;
import io.sandboxd.ffi.Libc;
import io.sandboxd.ffi.NativeException;
import io.sandboxd.ffi.Pty;
import io.sandboxd.ffi.Spawn;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executor;

/**
 * Turns a {@code Start} request into a running child (spec 3.5).
 *
 * <p>Credentials: a child of envd's own user is spawned directly; one for another user is spawned by
 * {@link UserSpawner}, whose thread takes the user's uid, gid and supplementary groups for the length of the
 * {@code posix_spawn} (a JVM cannot run code between fork and exec, and a helper exec such as {@code setpriv} cost
 * about 1.4 ms per command). The child changes directory and execs as the user, so a cwd or program the user may
 * not use fails the start with {@code permission_denied}. Everything else (session, controlling terminal, fds, cwd,
 * signal dispositions) is done by {@link Spawn}.
 */
public final class ProcessLauncher implements AutoCloseable {
    static final String DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    private final EnvdAuth auth;
    private final int ownUid;
    private final int ownGid;
    private final String path;
    /** Null when envd is not root: it can then only start processes as itself. */
    private final UserSpawner spawner;

    /** @param workers where {@code Start} calls go once the spawner thread has stopped */
    public ProcessLauncher(EnvdAuth auth, Executor workers) {
        this.auth = auth;
        int[] ids = ownIds();
        this.ownUid = ids[0];
        this.ownGid = ids[1];
        this.spawner = ownUid == 0 ? new UserSpawner(workers) : null;
        String p = System.getenv("PATH");
        this.path = p == null || p.isEmpty() ? DEFAULT_PATH : p;
    }

    /** Resolves user-facing parameters; bad ones are the client's fault ({@code invalid_argument}). */
    public LaunchSpec resolve(StartRequest request, UserAccount user) {
        ProcessConfig config = request.getProcess();
        if (config.getCmd().isEmpty()) {
            throw new ConnectException(ConnectCode.INVALID_ARGUMENT, "process.cmd is required");
        }
        EnvdState state = auth.state();
        // later wins: PATH, HOME, USER, LOGNAME, the sandbox's variables, the request's
        Map<String, String> env = new LinkedHashMap<>();
        env.put("PATH", path);
        env.put("HOME", user.home().toString());
        env.put("USER", user.name());
        env.put("LOGNAME", user.name());
        env.putAll(state.envVars());
        env.putAll(config.getEnvsMap());
        for (String k : env.keySet()) {
            if (k.isEmpty() || k.indexOf('=') >= 0 || k.indexOf('\0') >= 0) {
                throw new ConnectException(ConnectCode.INVALID_ARGUMENT, "invalid environment variable name '" + k + "'");
            }
        }

        Path cwd;
        if (config.hasCwd() && !config.getCwd().isEmpty()) {
            try {
                cwd = auth.resolvePath(config.getCwd(), user);
            } catch (java.nio.file.InvalidPathException e) {
                throw new ConnectException(ConnectCode.INVALID_ARGUMENT, "invalid cwd '" + config.getCwd() + "': "
                        + e.getReason());
            }
            if (!Files.isDirectory(cwd)) {
                throw new ConnectException(ConnectCode.INVALID_ARGUMENT, "cwd '" + cwd + "' does not exist");
            }
        } else {
            cwd = state.defaultWorkdir().map(w -> auth.resolvePath(w, user)).orElse(user.home());
            if (!Files.isDirectory(cwd)) {
                // an account without a home directory still gets to run commands
                cwd = Path.of("/");
            }
        }

        String executable = findExecutable(config.getCmd(), env.get("PATH"), cwd);
        List<String> argv = new ArrayList<>(config.getArgsCount() + 1);
        argv.add(config.getCmd());
        argv.addAll(config.getArgsList());
        LaunchSpec.TerminalSize terminal = null;
        if (request.hasPty()) {
            int cols = request.getPty().getSize().getCols();
            int rows = request.getPty().getSize().getRows();
            terminal = new LaunchSpec.TerminalSize(cols == 0 ? 80 : cols, rows == 0 ? 24 : rows);
            if (terminal.cols() > 0xffff || terminal.rows() > 0xffff) {
                throw new ConnectException(ConnectCode.INVALID_ARGUMENT, "pty size out of range");
            }
        }
        boolean stdin = !request.hasStdin() || request.getStdin();
        return new LaunchSpec(user, executable, List.copyOf(argv), Map.copyOf(env), cwd, terminal, stdin);
    }

    /** Starts the child. The returned process owns every fd created here. */
    public ManagedProcess spawn(LaunchSpec spec, ProcessConfig config, String tag) {
        UserAccount u = spec.user();
        boolean asOther = u.uid() != ownUid || u.gid() != ownGid;
        if (asOther && spawner == null) {
            throw new ConnectException(ConnectCode.PERMISSION_DENIED, "envd runs as uid " + ownUid
                    + " and cannot start processes as user '" + u.name() + "' (uid " + u.uid() + "); run envd as root");
        }
        List<String> env = new ArrayList<>(spec.env().size());
        spec.env().forEach((k, v) -> env.add(k + "=" + v));
        String exe = spec.executable();
        List<String> argv = spec.argv();

        List<Integer> toClose = new ArrayList<>(6);
        try {
            if (spec.terminal() != null) {
                Pty.Pair pty = Pty.openPty();
                toClose.add(pty.masterFd());
                Pty.setWindowSize(pty.masterFd(), new Pty.WindowSize(spec.terminal().rows(), spec.terminal().cols()));
                if (asOther) {
                    // the child opens the slave as the user, to make it its controlling terminal; like login and
                    // sshd, give the user its terminal (devpts created it as envd's, mode 0600 here)
                    Files.setAttribute(Path.of(pty.slavePath()), "unix:uid", u.uid());
                }
                int pid = start(new Spawn.Request(exe, argv, env, spec.cwd().toString(), -1, -1, -1, pty.slavePath()),
                        u, asOther);
                return ManagedProcess.withPty(pid, config, tag, pty.masterFd());
            }
            int[] in = spec.stdin() ? Libc.pipe2(Libc.O_CLOEXEC) : new int[] {
                Libc.open("/dev/null", Libc.O_RDONLY | Libc.O_CLOEXEC), -1};
            toClose.add(in[0]);
            if (in[1] >= 0) {
                toClose.add(in[1]);
            }
            int[] out = Libc.pipe2(Libc.O_CLOEXEC);
            toClose.add(out[0]);
            toClose.add(out[1]);
            int[] err = Libc.pipe2(Libc.O_CLOEXEC);
            toClose.add(err[0]);
            toClose.add(err[1]);
            int pid = start(new Spawn.Request(exe, argv, env, spec.cwd().toString(), in[0], out[1], err[1], null),
                    u, asOther);
            // the child has its copies; ours of the child's ends must go or EOF never comes
            Libc.close(in[0]);
            Libc.close(out[1]);
            Libc.close(err[1]);
            return ManagedProcess.withPipes(pid, config, tag, in[1], out[0], err[0]);
        } catch (NativeException | IOException | IllegalStateException e) {
            for (int fd : toClose) {
                closeQuietly(fd);
            }
            throw startFailure(spec, e);
        }
    }

    private int start(Spawn.Request request, UserAccount user, boolean asOther) {
        return asOther ? spawner.spawn(request, user) : Spawn.spawn(request);
    }

    /** Where {@code Start} calls should run: the spawner thread, or null (the default workers) when envd is not root. */
    Executor startExecutor() {
        return spawner;
    }

    /** True when called from a task of the spawner thread, which must not block for a process's lifetime. */
    boolean onSpawnerThread() {
        return spawner != null && spawner.isCurrentThread();
    }

    private static ConnectException startFailure(LaunchSpec spec, Exception e) {
        String what = "error starting process '" + spec.argv().getFirst() + "' as user '" + spec.user().name()
                + "' in '" + spec.cwd() + "': ";
        if (e instanceof NativeException n && (n.is(Errno.EACCES) || n.is(Errno.EPERM))) {
            // posix_spawn changes directory and execs as the user: a cwd or program the user may not use
            return new ConnectException(ConnectCode.PERMISSION_DENIED, what + e.getMessage(), e);
        }
        return new ConnectException(ConnectCode.INTERNAL, what + e.getMessage(), e);
    }

    /** exec-style lookup: a name with a slash is a path (relative to cwd), else searched in PATH. */
    static String findExecutable(String cmd, String pathVar, Path cwd) {
        if (cmd.indexOf('/') >= 0) {
            Path p = cwd.resolve(cmd).normalize();
            if (!Files.isRegularFile(p) || !Files.isExecutable(p)) {
                throw new ConnectException(ConnectCode.INVALID_ARGUMENT, "exec: \"" + cmd + "\": no such executable file");
            }
            return p.toString();
        }
        for (String dir : (pathVar == null ? DEFAULT_PATH : pathVar).split(":")) {
            Path p = (dir.isEmpty() ? cwd : cwd.resolve(dir)).resolve(cmd);
            if (Files.isRegularFile(p) && Files.isExecutable(p)) {
                return p.toString();
            }
        }
        throw new ConnectException(ConnectCode.INVALID_ARGUMENT,
                "exec: \"" + cmd + "\": executable file not found in $PATH");
    }

    /** Real uid and gid of envd, from /proc (no getuid binding needed for two numbers read once). */
    private static int[] ownIds() {
        try {
            int uid = -1;
            int gid = -1;
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("Uid:")) {
                    uid = Integer.parseInt(line.substring(4).trim().split("\\s+")[0]);
                } else if (line.startsWith("Gid:")) {
                    gid = Integer.parseInt(line.substring(4).trim().split("\\s+")[0]);
                }
            }
            return new int[] {uid, gid};
        } catch (IOException | RuntimeException e) {
            return new int[] {-1, -1};
        }
    }

    @Override
    public void close() {
        if (spawner != null) {
            spawner.close();
        }
    }

    static void closeQuietly(int fd) {
        try {
            Libc.close(fd);
        } catch (NativeException e) {
            // already failing: the original error is the one to report
        }
    }
}
