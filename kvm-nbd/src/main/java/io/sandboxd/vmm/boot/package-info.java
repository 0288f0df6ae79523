/**
 * Linux boot on x86-64: loading a kernel ({@link io.sandboxd.vmm.boot.ElfKernelLoader} for an uncompressed
 * {@code vmlinux}, {@link io.sandboxd.vmm.boot.BzImageLoader} for a bzImage through its 64-bit entry), the zero page
 * ({@link io.sandboxd.vmm.boot.ZeroPage}: setup header, e820 map, command line and initramfs pointers) and
 * {@link io.sandboxd.vmm.boot.LinuxBoot}, which puts it all in guest memory and the boot vCPU in long mode at the
 * kernel's 64-bit entry, as the boot protocol (Documentation/arch/x86/boot.rst) asks.
 */
package io.sandboxd.vmm.boot;
