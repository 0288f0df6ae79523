-- Templates made from a sandbox (POST /sandboxes/{id}/snapshots) and the hidden templates behind a fork. They are
-- templates like any other (sandboxes start from their builds); this row says where they came from, keeps snapshots
-- out of the template list and lets GET /snapshots filter by source sandbox. The source is no foreign key: a
-- snapshot outlives its sandbox.
CREATE TABLE template_snapshots (
    template_id       text        PRIMARY KEY REFERENCES templates (id) ON DELETE CASCADE,
    source_sandbox_id text        NOT NULL CHECK (source_sandbox_id ~ '^[a-z0-9]+$'),
    kind              text        NOT NULL CHECK (kind IN ('snapshot', 'fork')),
    created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX template_snapshots_source ON template_snapshots (source_sandbox_id);
