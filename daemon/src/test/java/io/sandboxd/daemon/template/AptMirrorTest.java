package io.sandboxd.daemon.template;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AptMirrorTest {
    @TempDir
    Path etcApt;

    @Test
    void readsDeb822SourcesAndSkipsTheSecurityArchive() throws Exception {
        Files.createDirectories(etcApt.resolve("sources.list.d"));
        Files.writeString(etcApt.resolve("sources.list.d/debian.sources"), """
                Types: deb
                # http://snapshot.debian.org/archive/debian/20250520T000000Z
                URIs: http://mirror.example/debian
                Suites: bookworm bookworm-updates
                Components: main

                Types: deb
                URIs: http://mirror.example/debian-security
                Suites: bookworm-security
                """);
        assertEquals(Optional.of("http://mirror.example/debian"), AptMirror.find(etcApt));
    }

    @Test
    void readsOneLineEntriesWithOptionsAndIgnoresOtherRepositories() throws Exception {
        Files.writeString(etcApt.resolve("sources.list"), """
                # deb http://commented.example/debian bookworm main
                deb https://packages.cloud.google.com/apt cloud-sdk-bookworm main
                deb [arch=amd64 signed-by=/k.gpg] https://deb.example.org/debian/ bookworm main
                """);
        assertEquals(Optional.of("https://deb.example.org/debian/"), AptMirror.find(etcApt));
    }

    @Test
    void disabledStanzasAndNoSourcesGiveNothing() throws Exception {
        assertEquals(Optional.empty(), AptMirror.find(etcApt));
        Files.createDirectories(etcApt.resolve("sources.list.d"));
        Files.writeString(etcApt.resolve("sources.list.d/x.sources"), "Types: deb\nEnabled: no\nURIs: http://a/debian\n");
        assertEquals(Optional.empty(), AptMirror.find(etcApt));
        assertEquals(List.of("http://a/debian"), AptMirror.deb822Uris("Types: deb\nURIs: http://a/debian\n"));
    }
}
