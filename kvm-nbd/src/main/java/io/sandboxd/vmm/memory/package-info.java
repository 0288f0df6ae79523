/**
 * Guest memory and how a restore fills it: {@link io.sandboxd.vmm.memory.MemoryBackends} ({@code eager},
 * {@code private-map}, {@code uffd}) turn a layered {@link io.sandboxd.vmm.snapshot.MemoryImage} into a
 * {@link io.sandboxd.vmm.memory.MappedGuestMemory}: one host mapping, exposed to KVM as regions around the 32-bit
 * MMIO hole, closed to release every mapping, fd and page-server thread.
 *
 * <p>Which pages were written (for diff snapshots):
 * <ul>
 *   <li>{@code uffd}: userfaultfd write-protect when the kernel has it for anonymous memory (6.18 here does): pages
 *       are filled write-protected, the first write to each raises one WP fault that records it. KVM's writes go
 *       through the same page tables, so no KVM dirty log is needed. Without WP: every page filled or removed.</li>
 *   <li>{@code private-map}: {@code /proc/self/pagemap}: a written page of a private file mapping is an exclusive
 *       anonymous page. Per mapping, unlike soft-dirty, whose reset ({@code clear_refs}) is process-wide and would
 *       disturb every other VM in this JVM.</li>
 *   <li>{@code eager}: nothing on the host side; its regions ask KVM for a dirty log, which the VMM passes to
 *       {@link io.sandboxd.vmm.memory.MappedGuestMemory#snapshot}.</li>
 * </ul>
 *
 * <p>Java code must not fault on {@code uffd} memory in Java state (see
 * {@link io.sandboxd.vmm.memory.MappedGuestMemory#populate}): device emulation reads guest memory through
 * {@code read}/{@code write}/{@code populate}.
 */
package io.sandboxd.vmm.memory;
