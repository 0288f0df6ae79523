package io.sandboxd.daemon.cli.systemd;

import io.sandboxd.daemon.host.HostCommand;
import io.sandboxd.daemon.host.HostException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;

/**
 * What installing a service does to the machine: files, directories and commands ({@code systemctl},
 * {@code userdel}). The real one acts; tests give {@code install} a fake that records the calls.
 */
public interface ServiceHost {
    /** A command's exit code and what it printed (both streams). */
    record Outcome(int exitCode, String output) {}

    boolean isRoot();

    /** Whether systemd is the init system here ({@code /run/systemd/system} exists, as sd_booted(3) checks). */
    boolean systemdRunning();

    boolean exists(Path p);

    String read(Path file) throws IOException;

    void writeFile(Path file, String text, String mode) throws IOException;

    void createDirectory(Path dir, String mode) throws IOException;

    void delete(Path file) throws IOException;

    void deleteTree(Path dir) throws IOException;

    Outcome run(List<String> argv);

    /** This machine. */
    static ServiceHost system() {
        return new SystemServiceHost();
    }

    final class SystemServiceHost implements ServiceHost {
        @Override
        public boolean isRoot() {
            try {
                return Files.readAllLines(Path.of("/proc/self/status")).stream().filter(l -> l.startsWith("Uid:"))
                        .map(l -> l.split("\\s+")).anyMatch(f -> f.length > 2 && f[2].equals("0"));
            } catch (IOException e) {
                return false;
            }
        }

        @Override
        public boolean systemdRunning() {
            return Files.isDirectory(Path.of("/run/systemd/system"));
        }

        @Override
        public boolean exists(Path p) {
            return Files.exists(p);
        }

        @Override
        public String read(Path file) throws IOException {
            return Files.readString(file);
        }

        @Override
        public void writeFile(Path file, String text, String mode) throws IOException {
            Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
            Files.deleteIfExists(tmp);
            Files.createFile(tmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString(mode)));
            Files.writeString(tmp, text);
            Files.move(tmp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING,
                    java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        }

        @Override
        public void createDirectory(Path dir, String mode) throws IOException {
            Files.createDirectories(dir);
            Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString(mode));
        }

        @Override
        public void delete(Path file) throws IOException {
            Files.deleteIfExists(file);
        }

        @Override
        public void deleteTree(Path dir) throws IOException {
            // rm rather than a Java walk: the tree holds PostgreSQL's files and maybe leftover mounts, and rm's
            // --one-file-system refuses to descend into a mount instead of deleting what is behind it.
            Outcome o = run(List.of("rm", "-rf", "--one-file-system", "--", dir.toString()));
            if (o.exitCode() != 0) {
                throw new IOException("rm -rf " + dir + " failed: " + o.output().strip());
            }
        }

        @Override
        public Outcome run(List<String> argv) {
            try {
                HostCommand.Result r = HostCommand.run(argv, null, Duration.ofSeconds(180));
                return new Outcome(r.exitCode(), (r.stdout() + r.stderr()).strip());
            } catch (HostException e) {
                return new Outcome(127, e.getMessage());
            }
        }
    }
}
