-- The outbound queue and the idempotency keys of sends of the postgres
-- backend (book/sending.md "Queue", book/scale-out.md "Sending across
-- nodes"), shared by every node: pgstore/pgqueue.

-- One row per queued message. record is the item (outbound.Item) as the
-- file queue's JSON record, kept as bytes so a remote reply holding any
-- character round-trips; the columns beside it repeat what the queries
-- filter and sort on. next_due is the earliest next attempt of a recipient
-- not final (NULL when every recipient is final). A row handed to a node's
-- delivery loop is claimed by (claim_node, claim_started), alive while
-- aimx.claim_alive says so.
CREATE TABLE aimx.outbound_queue (
	id text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),
	enqueued timestamptz NOT NULL,
	held boolean NOT NULL,
	rounds int NOT NULL DEFAULT 0,
	acked int NOT NULL DEFAULT 0,
	next_due timestamptz,
	claim_node text,
	claim_started timestamptz,
	record bytea NOT NULL,
	data bytea NOT NULL
);

-- Due: the items with a recipient due, oldest first.
CREATE INDEX outbound_queue_due ON aimx.outbound_queue (next_due) WHERE NOT held;
-- List and the order of every answer.
CREATE INDEX outbound_queue_enqueued ON aimx.outbound_queue (enqueued, id);
-- Unacked: rounds not handed on yet (few at any time).
CREATE INDEX outbound_queue_unacked ON aimx.outbound_queue (enqueued, id) WHERE acked < rounds;

-- One row per idempotency key (a digest of the caller and the key):
-- record is operations.SentRecord as JSON, at its time, for expiry.
CREATE TABLE aimx.send_idempotency (
	key text PRIMARY KEY CHECK (length(key) BETWEEN 1 AND 128),
	at timestamptz NOT NULL,
	record bytea NOT NULL
);

CREATE INDEX send_idempotency_at ON aimx.send_idempotency (at);
