-- sandboxd schema v1. Same SQL for the embedded server and an external PostgreSQL (--database-url).

CREATE TABLE teams (
    id         uuid        PRIMARY KEY,
    name       text        NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Credentials are stored as "$sha256$" + base64-no-padding(SHA-256(hex-decoded secret)), as upstream does; the
-- plaintext is shown once at creation. mask is what listings may show (prefix, first and last 4 hex digits).
CREATE TABLE api_keys (
    id           uuid        PRIMARY KEY,
    team_id      uuid        NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    name         text        NOT NULL,
    key_hash     text        NOT NULL UNIQUE,
    mask         text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);
CREATE INDEX api_keys_team ON api_keys (team_id);

CREATE TABLE access_tokens (
    id           uuid        PRIMARY KEY,
    team_id      uuid        NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    name         text        NOT NULL,
    token_hash   text        NOT NULL UNIQUE,
    mask         text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);
CREATE INDEX access_tokens_team ON access_tokens (team_id);

CREATE TABLE templates (
    id           text        PRIMARY KEY CHECK (id ~ '^[a-z0-9]+$'),
    team_id      uuid        REFERENCES teams (id) ON DELETE CASCADE, -- null: a built-in template such as base
    public       boolean     NOT NULL DEFAULT false,
    cpu_count    integer     NOT NULL CHECK (cpu_count > 0),
    memory_mb    integer     NOT NULL CHECK (memory_mb > 0),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- Names a template is known by ("base", "team/name"); tags live on builds.
CREATE TABLE template_aliases (
    alias       text PRIMARY KEY,
    template_id text NOT NULL REFERENCES templates (id) ON DELETE CASCADE
);
CREATE INDEX template_aliases_template ON template_aliases (template_id);

CREATE TABLE builds (
    id            uuid        PRIMARY KEY,
    template_id   text        NOT NULL REFERENCES templates (id) ON DELETE CASCADE,
    status        text        NOT NULL CHECK (status IN ('waiting', 'building', 'ready', 'error')),
    reason        text,
    cpu_count     integer     NOT NULL,
    memory_mb     integer     NOT NULL,
    disk_size_mb  integer     NOT NULL,
    envd_version  text,
    runtime       text        NOT NULL CHECK (runtime IN ('jail', 'vm')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz
);
CREATE INDEX builds_template ON builds (template_id, created_at DESC);

-- One row per sandbox that exists (running, paused, or in a transition); killed sandboxes are deleted.
CREATE TABLE sandboxes (
    id                    text        PRIMARY KEY CHECK (id ~ '^[a-z0-9]+$'),
    team_id               uuid        NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    template_id           text        NOT NULL REFERENCES templates (id),
    build_id              uuid        NOT NULL REFERENCES builds (id),
    alias                 text,
    state                 text        NOT NULL
        CHECK (state IN ('creating', 'running', 'pausing', 'paused', 'resuming', 'killing')),
    metadata              jsonb       NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(metadata) = 'object'),
    cpu_count             integer     NOT NULL,
    memory_mb             integer     NOT NULL,
    disk_size_mb          integer     NOT NULL,
    envd_version          text        NOT NULL,
    secure                boolean     NOT NULL,
    allow_internet_access boolean     NOT NULL,
    network               jsonb       NOT NULL DEFAULT '{}'::jsonb,
    auto_pause            boolean     NOT NULL,
    auto_pause_memory     boolean     NOT NULL,
    auto_resume           boolean     NOT NULL,
    runtime               text        NOT NULL CHECK (runtime IN ('jail', 'vm')),
    started_at            timestamptz NOT NULL,
    end_at                timestamptz NOT NULL, -- the TTL: kill or pause at this instant
    updated_at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sandboxes_team_started ON sandboxes (team_id, started_at, id);
CREATE INDEX sandboxes_end_at ON sandboxes (end_at) WHERE state = 'running';
CREATE INDEX sandboxes_metadata ON sandboxes USING gin (metadata jsonb_path_ops);
