-- The nodes sharing this database (book/scale-out.md): each node's row is
-- refreshed while it runs; owners lists the mailbox owners that exist as
-- Unix users on its host, so host-bound hook jobs wait for such a node.
CREATE TABLE aimx.nodes (
	name text PRIMARY KEY,
	owners text[] NOT NULL DEFAULT '{}',
	started_at timestamptz NOT NULL DEFAULT now(),
	seen_at timestamptz NOT NULL DEFAULT now()
);
