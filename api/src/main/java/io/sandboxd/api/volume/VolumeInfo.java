package io.sandboxd.api.volume;

/**
 * A team's volume as the API shows it.
 *
 * @param token the content API's bearer token for this volume; null where the answer leaves it out (listings)
 */
public record VolumeInfo(String volumeId, String name, String token) {}
