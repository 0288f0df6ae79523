package io.sandboxd.daemon.runtime.jail;

import io.sandboxd.daemon.host.DirectoryTrees;
import io.sandboxd.daemon.host.HostCommand;
import io.sandboxd.daemon.template.TemplateBuild;
import io.sandboxd.daemon.template.TemplateMetadata;
import io.sandboxd.daemon.template.TemplateStore;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;

/**
 * A template of a few hundred kilobytes for fast jail tests: the host's static busybox, its applets as links,
 * a web root, and the files a shell expects.
 */
public final class TinyRootfs {
    public static final String TEMPLATE_ID = "tiny";
    static final String INDEX_HTML = "hello from a jail\n";
    private static final List<String> APPLETS = List.of("sh", "cat", "echo", "sleep", "ls", "id", "httpd", "wget", "nc",
            "tail", "seq", "head", "grep", "unshare", "mount", "true", "false", "dd", "mkdir", "rm", "hostname", "ps", "usleep",
            "wc");

    private TinyRootfs() {
    }

    public static TemplateBuild create(Path dataDir) throws IOException {
        TemplateStore store = new TemplateStore(dataDir);
        Path dir = store.buildDir(TEMPLATE_ID, "b1");
        Path rootfs = dir.resolve("rootfs");
        Path bin = rootfs.resolve("bin");
        Files.createDirectories(bin);
        Path busybox = Path.of(HostCommand.check(List.of("sh", "-c", "command -v busybox")).strip());
        Files.copy(busybox, bin.resolve("busybox"));
        for (String a : APPLETS) {
            Files.createSymbolicLink(bin.resolve(a), Path.of("busybox"));
        }
        for (String d : List.of("etc", "tmp", "proc", "sys", "dev", "www", "root")) {
            Files.createDirectories(rootfs.resolve(d));
        }
        Files.writeString(rootfs.resolve("www/index.html"), INDEX_HTML);
        Files.writeString(rootfs.resolve("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/tmp:/bin/sh\n");
        Files.writeString(rootfs.resolve("etc/group"), "root:x:0:\nuser:x:1000:\n");
        new TemplateMetadata(TEMPLATE_ID, "b1", "test", Instant.now().toString(), DirectoryTrees.sizeOf(rootfs), Map.of())
                .writeTo(dir);
        return store.find(TEMPLATE_ID, "b1").orElseThrow();
    }
}
