package io.sandboxd.daemon.network;

import java.util.BitSet;

/**
 * Hands out slot numbers, lowest free first, so a host with few sandboxes keeps small, readable addresses.
 * Thread-safe.
 */
public final class SlotAllocator {
    private final int capacity;
    private final BitSet used;

    public SlotAllocator(int capacity) {
        if (capacity < 1) {
            throw new IllegalArgumentException("capacity must be positive, got " + capacity);
        }
        this.capacity = capacity;
        this.used = new BitSet(capacity);
    }

    /** The lowest free slot. */
    public synchronized int allocate() {
        int i = used.nextClearBit(0);
        if (i >= capacity) {
            throw new IllegalStateException("all " + capacity + " network slots are in use: kill sandboxes or configure a larger subnet");
        }
        used.set(i);
        return i;
    }

    /**
     * Marks a given slot used: one an earlier daemon handed out and this one takes over (a sandbox it adopts).
     *
     * @throws IllegalStateException if the slot is out of range or already used
     */
    public synchronized void claim(int slot) {
        if (slot < 0 || slot >= capacity) {
            throw new IllegalStateException("slot " + slot + " is outside 0.." + (capacity - 1));
        }
        if (used.get(slot)) {
            throw new IllegalStateException("slot " + slot + " is already in use");
        }
        used.set(slot);
    }

    public synchronized void release(int slot) {
        if (slot < 0 || slot >= capacity || !used.get(slot)) {
            throw new IllegalStateException("slot " + slot + " is not allocated");
        }
        used.clear(slot);
    }

    public synchronized int inUse() {
        return used.cardinality();
    }

    public int capacity() {
        return capacity;
    }
}
