package io.sandboxd.vmm.boot;

import java.nio.file.Path;
import java.util.Objects;

/** What to boot: a kernel (ELF vmlinux or bzImage), an optional initramfs, and the kernel command line. */
public record BootSpec(Path kernel, Path initramfs, String cmdline) {
    public BootSpec {
        Objects.requireNonNull(kernel, "kernel");
        Objects.requireNonNull(cmdline, "cmdline");
    }

    public BootSpec withCmdline(String more) {
        return new BootSpec(kernel, initramfs, more.isEmpty() ? cmdline : cmdline + " " + more);
    }
}
