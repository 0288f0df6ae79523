package io.sandboxd.daemon.host;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MountTableTest {
    @Test
    void parsesMountinfoIncludingOptionalFieldsAndOctalEscapes() {
        String info = """
                22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
                36 22 0:32 / /var/lib/sandboxd/sandboxes/j1/rootfs rw,relatime shared:9 master:2 - overlay overlay rw,lowerdir=/a
                37 22 0:33 / /tmp/with\\040space rw - tmpfs tmpfs rw
                """;
        List<MountTable.Mount> m = MountTable.parse(info);
        assertEquals(3, m.size());
        assertEquals(new MountTable.Mount(Path.of("/var/lib/sandboxd/sandboxes/j1/rootfs"), "overlay", "overlay"), m.get(1));
        assertEquals(Path.of("/tmp/with space"), m.get(2).mountPoint());
    }

    @Test
    void deletingATreeRefusesWhileSomethingIsMountedInside(@TempDir Path dir) throws Exception {
        HostAssumptions.assumeRoot();
        Path inner = dir.resolve("a/b");
        Files.createDirectories(inner);
        Files.writeString(dir.resolve("a/file"), "x");
        HostCommand.check(List.of("mount", "-t", "tmpfs", "tmpfs", inner.toString()));
        try {
            Files.writeString(inner.resolve("precious"), "y");
            HostException e = assertThrows(HostException.class, () -> DirectoryTrees.deleteRecursively(dir.resolve("a")));
            assertEquals(true, e.getMessage().contains("still mounted"), e.getMessage());
            assertEquals(List.of(inner), MountTable.under(dir).stream().map(MountTable.Mount::mountPoint).toList());
        } finally {
            MountTable.unmountAllUnder(dir);
        }
        assertEquals(List.of(), MountTable.under(dir));
        DirectoryTrees.deleteRecursively(dir.resolve("a"));
        assertEquals(false, Files.exists(dir.resolve("a")));
    }
}
