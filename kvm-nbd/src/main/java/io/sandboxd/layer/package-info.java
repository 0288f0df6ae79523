/**
 * The one layer format shared by disk images and memory snapshots: a chain of layers, each a raw data file, described
 * by a checksummed, versioned {@link io.sandboxd.layer.LayerHeader} (kind, block size, size, generation, own and
 * parent layer id, layer table, extents) encoded by {@link io.sandboxd.layer.LayerHeaderCodec}. Sealing a disk
 * overlay ({@code block.cow}) and writing a memory diff ({@code vmm.snapshot}) both produce the next generation's
 * header; {@code block.layer.LayeredImage} and {@code vmm.snapshot.MemoryImage} read them, each refusing the other
 * kind.
 */
package io.sandboxd.layer;
