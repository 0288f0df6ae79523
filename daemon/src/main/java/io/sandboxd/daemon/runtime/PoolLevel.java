package io.sandboxd.daemon.runtime;

/**
 * How full one template's warm pool is, for the metrics.
 *
 * @param templateId the template its sandboxes are made from
 * @param ready      started sandboxes waiting to be claimed
 * @param starting   sandboxes being started for it right now
 * @param waiting    creates waiting for the next one to be ready
 * @param target     how many it keeps ready
 */
public record PoolLevel(String templateId, int ready, int starting, int waiting, int target) {
}
