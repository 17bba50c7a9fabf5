package hooks

import (
	"context"
	"time"
)

// JobClaimer is the optional part of a StateStore shared by several nodes
// (book/scale-out.md, "Hooks across nodes"): a job is started only under a
// claim taken atomically in the shared state, so two nodes that both find
// a due job run it once. A claim belongs to one incarnation of one node
// and dies with it (a crash, a restart, a heartbeat older than the lease);
// only then may another node take the job over, with the same job id.
//
// When SchedulerConfig.State implements it, the scheduler claims every job
// before it starts (instead of recording the start with PutJob), rescans
// the shared state periodically for work no node has claimed, and leaves a
// hook whose owner is not a Unix user on this host to a node where it is.
// FileState does not implement it: one host needs no claims.
type JobClaimer interface {
	// ClaimJob claims the job id for this node in one atomic step, unless
	// it is done, or another node holds a live claim on it, or (for a
	// start) MaxAttempts starts were made already. A claim this node holds
	// already is taken again. On ClaimTaken the returned JobState is the
	// state recorded with the claim (with a start, Attempts counts it);
	// otherwise it is the state found, as far as it was read.
	ClaimJob(ctx context.Context, id string, c Claim) (JobState, ClaimStatus, error)
}

// Claim says what claiming a job records.
type Claim struct {
	// Start counts a start of the job (Attempts+1) with the claim and
	// refuses once MaxAttempts starts were made: a hook run. Without it
	// the claim counts nothing and has no cap: a webhook counts its tries
	// when it makes them, and gives up by time (book/webhooks.md).
	Start bool
	// At is recorded as the job's UpdatedAt.
	At time.Time
}

// ClaimStatus is the outcome of ClaimJob.
type ClaimStatus int

// The outcomes of ClaimJob.
const (
	// ClaimTaken: this node holds the claim and may run the job.
	ClaimTaken ClaimStatus = iota + 1
	// ClaimDone: the job is done; there is nothing to run.
	ClaimDone
	// ClaimHeld: another node holds a live claim (it is running the job,
	// or retrying a webhook); the job is left to it.
	ClaimHeld
	// ClaimExhausted: MaxAttempts starts were made, the last was
	// interrupted, and no node holds the job: it is given up.
	ClaimExhausted
)

// String names a ClaimStatus for logs.
func (c ClaimStatus) String() string {
	switch c {
	case ClaimTaken:
		return "taken"
	case ClaimDone:
		return "done"
	case ClaimHeld:
		return "held"
	case ClaimExhausted:
		return "exhausted"
	}
	return "unknown"
}

// JobsReader is an optional StateStore method for a state where one read
// of many jobs costs about what one read of one does (a database): the
// recovery scan, which a shared state runs every RescanInterval, asks it
// once per page of messages instead of once per job.
type JobsReader interface {
	// JobsDone reports which of ids are done; a job not in the result
	// is not done (or was never started).
	JobsDone(ctx context.Context, ids []string) (map[string]bool, error)
}
