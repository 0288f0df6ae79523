package io.sandboxd.daemon.cli.systemd;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/** One step of installing or removing the service, printed by {@code --dry-run} and applied otherwise. */
public sealed interface ServiceStep {
    /** What the step does, as a shell user would read it. */
    String describe();

    /** Does it; a failure is an exception whose message says what the machine answered. */
    void apply(ServiceHost host) throws IOException;

    record MakeDirectory(Path dir, String mode) implements ServiceStep {
        @Override
        public String describe() {
            return "mkdir -p " + dir + " && chmod " + octal(mode) + " " + dir;
        }

        @Override
        public void apply(ServiceHost host) throws IOException {
            host.createDirectory(dir, mode);
        }
    }

    record WriteFile(Path file, String text, String mode) implements ServiceStep {
        @Override
        public String describe() {
            return "write " + file + " (mode " + octal(mode) + ")";
        }

        @Override
        public void apply(ServiceHost host) throws IOException {
            host.writeFile(file, text, mode);
        }
    }

    record DeleteFile(Path file) implements ServiceStep {
        @Override
        public String describe() {
            return "rm -f " + file;
        }

        @Override
        public void apply(ServiceHost host) throws IOException {
            host.delete(file);
        }
    }

    record DeleteTree(Path dir) implements ServiceStep {
        @Override
        public String describe() {
            return "rm -rf --one-file-system " + dir;
        }

        @Override
        public void apply(ServiceHost host) throws IOException {
            host.deleteTree(dir);
        }
    }

    /**
     * A command. {@code okExits}: exit codes besides 0 that mean "nothing to do" (e.g. {@code systemctl stop} of a
     * unit that is not loaded), so re-running uninstall is safe.
     */
    record Run(List<String> argv, List<Integer> okExits, String why) implements ServiceStep {
        public Run {
            argv = List.copyOf(argv);
            okExits = List.copyOf(okExits);
        }

        static Run of(String why, String... argv) {
            return new Run(List.of(argv), List.of(), why);
        }

        static Run tolerating(List<Integer> okExits, String why, String... argv) {
            return new Run(List.of(argv), okExits, why);
        }

        @Override
        public String describe() {
            return String.join(" ", argv) + "   # " + why;
        }

        @Override
        public void apply(ServiceHost host) throws IOException {
            ServiceHost.Outcome o = host.run(argv);
            if (o.exitCode() != 0 && !okExits.contains(o.exitCode())) {
                throw new IOException(String.join(" ", argv) + " exited " + o.exitCode()
                        + (o.output().isBlank() ? "" : ": " + o.output()));
            }
        }
    }

    private static String octal(String mode) {
        int bits = 0;
        for (int i = 0; i < 9; i++) {
            if (mode.charAt(i) != '-') {
                bits |= 1 << (8 - i);
            }
        }
        return String.format("%04o", bits);
    }
}
