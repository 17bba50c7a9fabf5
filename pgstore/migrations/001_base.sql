-- The nodes sharing this database (book/scale-out.md): each node's row is
-- refreshed while it runs; owners lists the mailbox owners that exist as
-- Unix users on its host, so host-bound hook jobs wait for such a node.
CREATE TABLE aimx.nodes (
	name text PRIMARY KEY,
	owners text[] NOT NULL DEFAULT '{}',
	started_at timestamptz NOT NULL DEFAULT now(),
	seen_at timestamptz NOT NULL DEFAULT now()
);

-- A claim (of a hook job, of a queued send) names the node and the node's
-- started_at when it was taken. It is alive while that node runs the same
-- incarnation and its heartbeat is younger than lease: a node that was
-- killed and restarted, or stopped beating, has lost every claim it held
-- (book/scale-out.md, "The schema and the nodes").
CREATE FUNCTION aimx.claim_alive(claim_node text, claim_started timestamptz, lease interval)
RETURNS boolean LANGUAGE sql STABLE AS $$
	SELECT claim_node IS NOT NULL AND EXISTS (
		SELECT 1 FROM aimx.nodes n
		WHERE n.name = claim_node AND n.started_at = claim_started AND n.seen_at > now() - lease)
$$;
