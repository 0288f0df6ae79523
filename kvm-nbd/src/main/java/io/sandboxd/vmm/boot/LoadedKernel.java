package io.sandboxd.vmm.boot;

/**
 * A kernel placed in guest memory: its 64-bit entry point (guest-physical), the first byte after everything it
 * occupies (image plus the room it needs to run: bss, or a bzImage's init_size), and for a bzImage its setup
 * header (bytes 0x1f1.. of the file), which the zero page must carry; null for an ELF vmlinux.
 */
public record LoadedKernel(long entry, long start, long end, byte[] setupHeader, long initrdAddressMax) {
}
