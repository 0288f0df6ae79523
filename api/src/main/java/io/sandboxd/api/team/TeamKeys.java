package io.sandboxd.api.team;

import io.sandboxd.api.auth.Team;
import java.time.Instant;
import java.util.List;
import java.util.UUID;

/**
 * Port: a team's credentials as the E2B API manages them ({@code /api-keys}, {@code /access-tokens}, and the API
 * key {@code GET /teams} hands to a signed-in CLI). Every call is scoped to the caller's team: an id of another
 * team's credential behaves like an unknown one. Implementations may block (the store); the API calls them off the
 * event loop.
 */
public interface TeamKeys {
    /** A credential as listings show it: never its value, only the masked form. */
    record KeyView(UUID id, String name, KeyMask mask, Instant createdAt, Instant lastUsedAt) {}

    /** A credential just made: {@code value} is shown this once and never stored. */
    record Created(KeyView info, String value) {}

    /** The team's live API keys, oldest first. */
    List<KeyView> apiKeys(Team team);

    Created createApiKey(Team team, String name);

    /** False when the team has no live API key with this id. */
    boolean renameApiKey(Team team, UUID id, String name);

    /** False when the team has no live API key with this id. */
    boolean revokeApiKey(Team team, UUID id);

    Created createAccessToken(Team team, String name);

    /** False when the team has no live access token with this id. */
    boolean revokeAccessToken(Team team, UUID id);

    /**
     * The API key {@code GET /teams} returns to a CLI signed in with {@code accessToken}: the same key for the same
     * token every time (derived from it, so no key is kept in plaintext), made live on first use. Throws
     * {@link RevokedKeyException} when that key was revoked since.
     */
    String apiKeyForAccessToken(Team team, String accessToken);

    /** The derived key of an access token was revoked: a new access token gets a new key. */
    final class RevokedKeyException extends RuntimeException {
        public RevokedKeyException(String message) {
            super(message);
        }
    }
}
