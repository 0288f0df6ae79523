package io.sandboxd.daemon.cli.systemd;

import java.io.IOException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

/** A machine that only records: what install/uninstall would have done, in order, with answers the test chooses. */
final class FakeServiceHost implements ServiceHost {
    final List<String> calls = new CopyOnWriteArrayList<>();
    final Map<Path, String> files = new HashMap<>();
    final Map<String, Outcome> answers = new HashMap<>();
    boolean root = true;
    boolean systemd = true;

    @Override
    public boolean isRoot() {
        return root;
    }

    @Override
    public boolean systemdRunning() {
        return systemd;
    }

    @Override
    public boolean exists(Path p) {
        return files.containsKey(p) || files.keySet().stream().anyMatch(f -> f.startsWith(p));
    }

    @Override
    public String read(Path file) throws IOException {
        String s = files.get(file);
        if (s == null) {
            throw new IOException("no " + file);
        }
        return s;
    }

    @Override
    public void writeFile(Path file, String text, String mode) {
        calls.add("write " + file + " " + mode);
        files.put(file, text);
    }

    @Override
    public void createDirectory(Path dir, String mode) {
        calls.add("mkdir " + dir + " " + mode);
    }

    @Override
    public void delete(Path file) {
        calls.add("delete " + file);
        files.remove(file);
    }

    @Override
    public void deleteTree(Path dir) {
        calls.add("deleteTree " + dir);
        files.keySet().removeIf(f -> f.startsWith(dir));
    }

    @Override
    public Outcome run(List<String> argv) {
        String line = String.join(" ", argv);
        calls.add("run " + line);
        return answers.getOrDefault(line, new Outcome(0, ""));
    }
}
