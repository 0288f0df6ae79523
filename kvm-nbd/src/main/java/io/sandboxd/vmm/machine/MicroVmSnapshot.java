package io.sandboxd.vmm.machine;

import io.sandboxd.vmm.VmSnapshot;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Properties;

/**
 * A snapshot of a whole microVM: the VM snapshot (memory layer chain + machine and device state) and the sealed
 * disk layer taken at the same instant. On disk, next to the memory layer: {@code <layer>.microvm} names both
 * files, relative to its directory.
 */
public record MicroVmSnapshot(VmSnapshot vm, Path diskHeader, int vcpus, long memoryBytes) {
    static final String SUFFIX = ".microvm";

    public Path manifest() {
        String header = vm.memory().headerPath().getFileName().toString();
        return vm.memory().directory().resolve(header.substring(0, header.length() - ".header".length()) + SUFFIX);
    }

    void write() throws IOException {
        Path dir = vm.memory().directory();
        Properties p = new Properties();
        p.setProperty("memory", vm.memory().headerPath().getFileName().toString());
        p.setProperty("disk", dir.relativize(diskHeader.toAbsolutePath()).toString());
        p.setProperty("vcpus", Integer.toString(vcpus));
        p.setProperty("memoryBytes", Long.toString(memoryBytes));
        Path tmp = manifest().resolveSibling(manifest().getFileName() + ".tmp");
        try (OutputStream out = Files.newOutputStream(tmp)) {
            p.store(out, "sandboxd microVM snapshot");
        }
        Files.move(tmp, manifest(), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    /** Opens a snapshot from its {@code .microvm} manifest; every file it names is checked as it is opened. */
    public static MicroVmSnapshot open(Path manifest) throws IOException {
        Properties p = new Properties();
        try (InputStream in = Files.newInputStream(manifest)) {
            p.load(in);
        }
        Path dir = manifest.toAbsolutePath().getParent();
        String memory = p.getProperty("memory");
        String disk = p.getProperty("disk");
        if (memory == null || disk == null || memory.contains("/")) {
            throw new IOException(manifest + " is not a microVM snapshot manifest (memory= and disk= needed)");
        }
        try {
            return new MicroVmSnapshot(VmSnapshot.open(dir.resolve(memory)), dir.resolve(disk).normalize(),
                    Integer.parseInt(p.getProperty("vcpus", "1")), Long.parseLong(p.getProperty("memoryBytes", "0")));
        } catch (NumberFormatException e) {
            throw new IOException(manifest + ": bad vcpus/memoryBytes: " + e.getMessage(), e);
        }
    }
}
