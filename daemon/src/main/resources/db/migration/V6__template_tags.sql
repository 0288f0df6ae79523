-- Tags naming builds of a template (E2B's `name:tag`). `default` is not stored: it always names the newest ready
-- build. A tag moves when it is assigned again; it goes with its template or build.
CREATE TABLE template_tags (
    template_id text        NOT NULL REFERENCES templates (id) ON DELETE CASCADE,
    tag         text        NOT NULL CHECK (tag ~ '^[a-z0-9][a-z0-9._-]{0,63}$' AND tag <> 'default'),
    build_id    uuid        NOT NULL REFERENCES builds (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (template_id, tag)
);
