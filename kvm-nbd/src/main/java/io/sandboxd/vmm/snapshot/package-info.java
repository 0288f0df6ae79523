/**
 * Layered memory images: a chain of memory layers in one directory, each a raw data file plus a header in the one
 * layer format ({@link io.sandboxd.layer.LayerHeader}, kind memory) that maps every block of guest memory to a
 * layer (or to zero). {@link io.sandboxd.vmm.snapshot.LayerWriter} writes base and diff layers,
 * {@link io.sandboxd.vmm.snapshot.MemoryImage} opens and resolves them. No compaction yet: a long chain stays
 * readable, only private-map restores of very fragmented chains fall back to copying.
 */
package io.sandboxd.vmm.snapshot;
