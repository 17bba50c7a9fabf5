-- The durable hook state of the postgres backend (book/hooks.md, book/scale-out.md
-- "Hooks across nodes"), shared by every node: pgstore/pghooks.

-- One row per job that has started or been decided (hooks.JobState). A job
-- is started only under a claim: claim_node and claim_started name the node
-- incarnation that holds it, alive while aimx.claim_alive says so.
CREATE TABLE aimx.hook_jobs (
	id text PRIMARY KEY CHECK (length(id) BETWEEN 2 AND 64),
	attempts int NOT NULL DEFAULT 0,
	done boolean NOT NULL DEFAULT false,
	outcome text NOT NULL DEFAULT '',
	exit_code int NOT NULL DEFAULT 0,
	timed_out boolean NOT NULL DEFAULT false,
	reason text NOT NULL DEFAULT '',
	updated_at timestamptz NOT NULL,
	first_attempt_at timestamptz,
	next_attempt_at timestamptz,
	status int NOT NULL DEFAULT 0,
	claim_node text,
	claim_started timestamptz
);

-- Pruning looks for old done jobs.
CREATE INDEX hook_jobs_done_updated ON aimx.hook_jobs (updated_at) WHERE done;

-- One row per delivery round with after_send work left (hooks.AfterSendRecord).
CREATE TABLE aimx.hook_after_send (
	mailbox text NOT NULL,
	id text NOT NULL,
	round int NOT NULL,
	status text NOT NULL,
	hooks text[] NOT NULL,
	recorded_at timestamptz NOT NULL,
	PRIMARY KEY (mailbox, id, round)
);

-- The receipt time recovery scans inbound mail from: one row, absent on a
-- new state.
CREATE TABLE aimx.hook_checkpoint (
	one boolean PRIMARY KEY DEFAULT true CHECK (one),
	at timestamptz NOT NULL
);
