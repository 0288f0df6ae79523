-- Several hosts over one database: each sandbox row names the node that runs it, so a node's start-up
-- reconciliation and TTL timers touch its own sandboxes only. '' is the single-host daemon.
ALTER TABLE sandboxes ADD COLUMN node_id text NOT NULL DEFAULT '';
CREATE INDEX sandboxes_node_state ON sandboxes (node_id, state);
