-- Team volumes: a directory per volume under <data-dir>/volumes/<id>/, mounted into sandboxes by name.
-- The content API's token is derived from the daemon's secret and token_salt (so Volume.getInfo can hand it out
-- again); the row holds only its hash, "$sha256$" + base64-no-padding(SHA-256(token)).
CREATE TABLE volumes (
    id         text        PRIMARY KEY CHECK (id ~ '^[a-z0-9]+$'),
    team_id    uuid        NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    name       text        NOT NULL CHECK (name ~ '^[A-Za-z0-9_-]{1,64}$'),
    token_salt text        NOT NULL,
    token_hash text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (team_id, name)
);

-- Which sandbox has which volume mounted where. A volume with a mount row cannot be deleted (RESTRICT): the
-- destroy answers 409 until the sandboxes that use it are killed, which deletes their rows (CASCADE).
CREATE TABLE sandbox_volume_mounts (
    sandbox_id text NOT NULL REFERENCES sandboxes (id) ON DELETE CASCADE,
    volume_id  text NOT NULL REFERENCES volumes (id) ON DELETE RESTRICT,
    path       text NOT NULL,
    position   integer NOT NULL,
    PRIMARY KEY (sandbox_id, path)
);
CREATE INDEX sandbox_volume_mounts_volume ON sandbox_volume_mounts (volume_id);
