-- The MCP bearer tokens of the postgres backend (book/scale-out.md,
-- book/mcp.md): the same records as tokens.json, hashes only. Every node
-- verifies a presented secret with one lookup in the unique hash index, so
-- a revoke on any node holds on every node from its commit.
CREATE TABLE aimx.tokens (
	seq bigint GENERATED ALWAYS AS IDENTITY,
	id text PRIMARY KEY CHECK (id ~ '^tok_[0-9a-f]{12}$'),
	hash text NOT NULL UNIQUE CHECK (hash ~ '^[0-9a-f]{64}$'),
	name text NOT NULL DEFAULT '',
	owner text NOT NULL CHECK (owner <> ''),
	mailboxes text[] NOT NULL DEFAULT '{}',
	allow_hooks boolean NOT NULL DEFAULT false,
	created_at timestamptz NOT NULL
);

CREATE INDEX tokens_seq ON aimx.tokens (seq);
