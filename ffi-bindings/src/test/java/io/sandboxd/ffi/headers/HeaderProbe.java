package io.sandboxd.ffi.headers;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Compiles one C probe from {@code native-headers} with gcc against this machine's system headers, runs it and
 * parses what it prints ({@code struct}/{@code field}/{@code const} lines, see {@code probe.h}).
 */
public final class HeaderProbe {
    private static final String RESOURCE_DIR = "io/sandboxd/headers/";

    /** Size of a struct, or offset and size of a field. */
    public record Fact(long offset, long size) {
    }

    public record Output(Map<String, Long> structs, Map<String, Fact> fields, Map<String, Long> constants) {
    }

    private HeaderProbe() {
    }

    /** Runs the probe {@code <area>.c} shipped in native-headers. */
    public static Output run(String area) throws IOException, InterruptedException {
        return runSource(area, readResource(area + ".c"));
    }

    /** Runs a probe given as C source (for the checker's own tests). */
    public static Output runSource(String name, String source) throws IOException, InterruptedException {
        Path dir = Files.createTempDirectory("sandboxd-probe-" + name);
        try {
            Files.writeString(dir.resolve("probe.h"), readResource("probe.h"));
            Files.writeString(dir.resolve(name + ".c"), source);
            Path exe = dir.resolve(name);
            exec(dir, List.of("gcc", "-std=gnu11", "-Wall", "-Werror", "-o", exe.toString(), name + ".c"));
            return parse(exec(dir, List.of(exe.toString())));
        } finally {
            try (var files = Files.walk(dir)) {
                files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    static Output parse(String text) {
        Map<String, Long> structs = new LinkedHashMap<>();
        Map<String, Fact> fields = new LinkedHashMap<>();
        Map<String, Long> constants = new LinkedHashMap<>();
        for (String line : text.split("\n")) {
            if (line.isBlank()) {
                continue;
            }
            String[] w = line.trim().split(" ");
            switch (w[0]) {
                case "struct" -> structs.put(w[1], Long.parseLong(w[2]));
                case "field" -> fields.put(w[1], new Fact(Long.parseLong(w[2]), Long.parseLong(w[3])));
                case "const" -> constants.put(w[1], Long.parseLong(w[2]));
                default -> throw new IllegalStateException("probe printed an unknown line: " + line);
            }
        }
        return new Output(structs, fields, constants);
    }

    private static String readResource(String name) throws IOException {
        try (InputStream in = HeaderProbe.class.getClassLoader().getResourceAsStream(RESOURCE_DIR + name)) {
            if (in == null) {
                throw new IOException("no probe resource " + RESOURCE_DIR + name + " (is native-headers on the test classpath?)");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    private static String exec(Path dir, List<String> cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException(String.join(" ", cmd) + " timed out");
        }
        if (p.exitValue() != 0) {
            throw new IOException(String.join(" ", cmd) + " exited " + p.exitValue() + ":\n" + out
                    + "\n(the layout test needs gcc and the system headers: apt-get install gcc libc6-dev linux-libc-dev)");
        }
        return out;
    }
}
