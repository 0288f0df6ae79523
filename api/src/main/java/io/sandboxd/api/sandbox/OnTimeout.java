package io.sandboxd.api.sandbox;

/** What happens when a sandbox's TTL runs out. */
public enum OnTimeout {
    KILL,
    PAUSE;

    public String wireName() {
        return this == KILL ? "kill" : "pause";
    }
}
