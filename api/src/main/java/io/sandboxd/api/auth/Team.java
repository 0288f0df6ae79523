package io.sandboxd.api.auth;

/** The owner of sandboxes and keys: every authenticated request acts for one team. */
public record Team(String id, String name) {
    public Team {
        if (id == null || id.isBlank()) {
            throw new IllegalArgumentException("team id must not be blank");
        }
    }
}
