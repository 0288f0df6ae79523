package io.sandboxd.daemon.store;

import io.sandboxd.api.auth.ApiKeyStore;
import io.sandboxd.api.auth.KeyHash;
import io.sandboxd.api.auth.Team;
import java.util.Optional;

/** The API's credential port, answered from the key tables. */
public final class StoreApiKeyStore implements ApiKeyStore {
    private final KeyRepository keys;

    public StoreApiKeyStore(KeyRepository keys) {
        this.keys = keys;
    }

    @Override
    public Optional<Team> authenticateApiKey(String apiKey) {
        return keys.authenticate(KeyHash.API_KEY, apiKey);
    }

    @Override
    public Optional<Team> authenticateAccessToken(String accessToken) {
        return keys.authenticate(KeyHash.ACCESS_TOKEN, accessToken);
    }
}
