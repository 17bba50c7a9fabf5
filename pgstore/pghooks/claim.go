package pghooks

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/aimx-dev/aimx/hooks"
)

// claimSQL takes a job's claim in one statement (book/scale-out.md, "Hooks
// across nodes"): it inserts the job, or updates it only when it is not
// done, has starts left (for a start), and its claim is this incarnation's
// own or dead. Two nodes racing for one job: the second waits on the
// first's row lock and re-checks the condition on the row the first wrote,
// so exactly one gets a row back.
//
// $1 id, $2 start, $3 at, $4 node, $5 started, $6 lease, $7 MaxAttempts.
const claimSQL = `INSERT INTO aimx.hook_jobs AS j (id, attempts, updated_at, claim_node, claim_started)
VALUES ($1, CASE WHEN $2 THEN 1 ELSE 0 END, $3, $4, $5)
ON CONFLICT (id) DO UPDATE SET attempts = j.attempts + CASE WHEN $2 THEN 1 ELSE 0 END,
	updated_at = excluded.updated_at, claim_node = excluded.claim_node, claim_started = excluded.claim_started
WHERE NOT j.done
	AND (NOT $2 OR j.attempts < $7)
	AND ((j.claim_node = $4 AND j.claim_started = $5) OR NOT aimx.claim_alive(j.claim_node, j.claim_started, $6))
RETURNING ` + jobColumns

// ClaimJob claims a job for this node (see hooks.JobClaimer).
func (s *State) ClaimJob(ctx context.Context, id string, c hooks.Claim) (hooks.JobState, hooks.ClaimStatus, error) {
	if err := checkID(id); err != nil {
		return hooks.JobState{}, 0, err
	}
	if s.db.Started.IsZero() {
		return hooks.JobState{}, 0, fmt.Errorf("claim hook job %s: node %s is not registered", id, s.db.Node)
	}
	js, err := scanJob(s.db.Pool.QueryRow(ctx, claimSQL, id, c.Start, c.At, s.db.Node, s.db.Started, s.lease, hooks.MaxAttempts))
	if err == nil {
		return js, hooks.ClaimTaken, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return hooks.JobState{}, 0, fmt.Errorf("claim hook job %s: %w", id, err)
	}
	// Not taken: say why. The row may have moved on since (a claim died
	// just now); the caller then leaves the job to the next scan.
	var held bool
	js, err = scanJob(s.db.Pool.QueryRow(ctx, "SELECT "+jobColumns+
		", aimx.claim_alive(claim_node, claim_started, $2) AND NOT (claim_node = $3 AND claim_started = $4) FROM aimx.hook_jobs WHERE id = $1",
		id, s.lease, s.db.Node, s.db.Started), &held)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		// Pruned meanwhile: long done.
		return hooks.JobState{}, hooks.ClaimDone, nil
	case err != nil:
		return hooks.JobState{}, 0, fmt.Errorf("claim hook job %s: %w", id, err)
	case js.Done:
		return js, hooks.ClaimDone, nil
	case held:
		return js, hooks.ClaimHeld, nil
	case c.Start && js.Attempts >= hooks.MaxAttempts:
		return js, hooks.ClaimExhausted, nil
	}
	return js, hooks.ClaimHeld, nil
}
