-- Team secrets (the SDK's Secret API). The value is never stored in plain text: `ciphertext` is AES-256-GCM under
-- the key in <data-dir>/secret-key with a random 12-byte `nonce` per value, and the associated data binds it to
-- this row (secret id, team, version), so a ciphertext copied to another row or team does not decrypt.
-- Only the current version is kept: an update replaces it and bumps current_version.
CREATE TABLE secrets (
    id              text        PRIMARY KEY CHECK (id ~ '^sec_[a-z0-9]+$'),
    -- listing order (oldest first) and the list's page cursor: IDs are random and two creates can share a timestamp
    seq             bigserial   NOT NULL UNIQUE,
    team_id         uuid        NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    name            text        NOT NULL CHECK (name ~ '^[a-z0-9_.-]{1,128}$' AND name NOT LIKE 'sec\_%'),
    current_version bigint      NOT NULL CHECK (current_version >= 1),
    metadata        jsonb       NOT NULL DEFAULT '{}',
    nonce           bytea       NOT NULL CHECK (length(nonce) = 12),
    ciphertext      bytea       NOT NULL,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    UNIQUE (team_id, name)
);
