package io.sandboxd.vmm;

import io.sandboxd.vmm.kvm.MachineState;
import io.sandboxd.vmm.kvm.MachineStateCodec;
import io.sandboxd.vmm.snapshot.MemoryImage;
import java.io.IOException;
import java.nio.file.Path;

/**
 * A restorable machine: its KVM state and its memory image (a layer chain). On disk they sit together: the
 * image's {@code <layerId>.header} and {@code <layerId>.layer} files, and {@code <layerId>.vmstate} for the state
 * of the machine at the moment that layer was written.
 */
public record VmSnapshot(MachineState state, MemoryImage memory) {
    public static Path statePath(MemoryImage image) {
        String header = image.headerPath().getFileName().toString();
        return image.directory().resolve(header.substring(0, header.length() - ".header".length()) + ".vmstate");
    }

    /** Opens the snapshot whose memory image header is {@code headerFile}; bad files are refused with the reason. */
    public static VmSnapshot open(Path headerFile) throws IOException {
        MemoryImage image = MemoryImage.open(headerFile);
        return new VmSnapshot(MachineStateCodec.read(statePath(image)), image);
    }

    void writeState() throws IOException {
        MachineStateCodec.write(state, statePath(memory));
    }

    public long generation() {
        return memory.generation();
    }
}
