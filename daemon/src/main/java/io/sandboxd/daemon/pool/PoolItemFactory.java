package io.sandboxd.daemon.pool;

/**
 * How a {@link PoolRefiller} makes and unmakes the items of its pools: started jails, VM shells, network slots.
 *
 * @param <K> what an item is made from (a template build; the pool's key)
 * @param <T> the item
 */
public interface PoolItemFactory<K, T> {
    /**
     * Makes one item, ready to hand out. Undoes its own half-done work when it fails.
     *
     * @param forWaitingCreate a create is already waiting for this item (the pool was empty), so it should be
     *                         ready soon rather than as warm as possible
     */
    T make(K key, boolean forWaitingCreate);

    /** Removes an item that will not be handed out (the pool closed while it was being made). */
    void discard(T item);

    /** The key in a log line. */
    String describe(K key);
}
