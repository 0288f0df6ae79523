package io.sandboxd.daemon.template;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * Finds the Debian mirror this host's apt already uses, so the template build fetches from the same place (a
 * host that can install packages can build the template; no second network dependency). Reads one-line
 * {@code sources.list} entries and deb822 {@code .sources} files.
 */
public final class AptMirror {
    private AptMirror() {
    }

    /** The first Debian archive URI (not the security archive) in {@code /etc/apt}. */
    public static Optional<String> fromHost() {
        return find(Path.of("/etc/apt"));
    }

    static Optional<String> find(Path etcApt) {
        List<Path> files = new ArrayList<>();
        files.add(etcApt.resolve("sources.list"));
        Path d = etcApt.resolve("sources.list.d");
        if (Files.isDirectory(d)) {
            try (Stream<Path> s = Files.list(d)) {
                s.sorted().forEach(files::add);
            } catch (IOException ignored) {
                // an unreadable directory just means fewer candidates
            }
        }
        for (Path f : files) {
            if (!Files.isRegularFile(f)) {
                continue;
            }
            String text;
            try {
                text = Files.readString(f);
            } catch (IOException e) {
                continue;
            }
            List<String> uris = f.toString().endsWith(".sources") ? deb822Uris(text) : oneLineUris(text);
            for (String u : uris) {
                if (isDebianArchive(u)) {
                    return Optional.of(u);
                }
            }
        }
        return Optional.empty();
    }

    static boolean isDebianArchive(String uri) {
        String u = uri.endsWith("/") ? uri.substring(0, uri.length() - 1) : uri;
        return (u.startsWith("http://") || u.startsWith("https://")) && u.endsWith("/debian");
    }

    static List<String> oneLineUris(String text) {
        List<String> out = new ArrayList<>();
        for (String line : text.split("\n")) {
            String l = line.strip();
            if (!l.startsWith("deb ")) {
                continue;
            }
            for (String tok : l.substring(4).strip().split("\\s+")) {
                if (tok.startsWith("[")) {
                    continue; // options like [arch=amd64 signed-by=...]
                }
                if (tok.contains("://")) {
                    out.add(tok);
                    break;
                }
            }
        }
        return out;
    }

    static List<String> deb822Uris(String text) {
        List<String> out = new ArrayList<>();
        for (String stanza : text.split("\n\\s*\n")) {
            boolean deb = false;
            boolean enabled = true;
            List<String> uris = new ArrayList<>();
            for (String line : stanza.split("\n")) {
                if (line.startsWith("#")) {
                    continue;
                }
                int colon = line.indexOf(':');
                if (colon < 0) {
                    continue;
                }
                String key = line.substring(0, colon).strip().toLowerCase(java.util.Locale.ROOT);
                String value = line.substring(colon + 1).strip();
                switch (key) {
                    case "types" -> deb = List.of(value.split("\\s+")).contains("deb");
                    case "uris" -> uris.addAll(List.of(value.split("\\s+")));
                    case "enabled" -> enabled = !value.equalsIgnoreCase("no");
                    default -> { }
                }
            }
            if (deb && enabled) {
                out.addAll(uris);
            }
        }
        return out;
    }
}
