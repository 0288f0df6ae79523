package io.sandboxd.api.auth;

import java.util.Optional;

/**
 * Port: who a credential belongs to. Implementations look up {@link KeyHash#of} of the credential (never the
 * plaintext) and may block (a database query); the API calls them off the event loop.
 */
public interface ApiKeyStore {
    /** The team of a live (not revoked) {@code e2b_…} API key; the key's format is already checked. */
    Optional<Team> authenticateApiKey(String apiKey);

    /** The team of a live {@code sk_e2b_…} access token; the token's format is already checked. */
    Optional<Team> authenticateAccessToken(String accessToken);
}
