// Package pghooks is the durable hook state of the postgres backend
// (book/scale-out.md, "Hooks across nodes"): a hooks.StateStore in the
// shared database, and a hooks.JobClaimer so that a due hook fires once
// across every node, re-run (with the same job id) only when the node that
// ran it died mid-run. Its tables (aimx.hook_jobs, aimx.hook_after_send,
// aimx.hook_checkpoint) are created by pgstore's migration 020.
package pghooks

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/aimx-dev/aimx/hooks"
	"github.com/aimx-dev/aimx/pgstore"
)

// maxJobIDBytes bounds a job id: hooks.JobID makes 16 hex digits; the
// table refuses anything past 64.
const maxJobIDBytes = 64

// Options configures a State.
type Options struct {
	// Lease is how long a claim outlives its node's last heartbeat (the
	// node's Beat must run well within it); zero means
	// pgstore.DefaultLease.
	Lease time.Duration
}

// State is the hook state in PostgreSQL. It is safe for concurrent use, by
// any number of nodes.
type State struct {
	db    *pgstore.DB
	lease time.Duration
}

var (
	_ hooks.StateStore = (*State)(nil)
	_ hooks.JobClaimer = (*State)(nil)
	_ hooks.JobsReader = (*State)(nil)
)

// New returns the hook state in db. Claims are taken in the name of
// db.Node's incarnation (db.Started): call db.Register before the
// scheduler starts, and keep db.Beat running.
func New(db *pgstore.DB, opts Options) *State {
	if opts.Lease <= 0 {
		opts.Lease = pgstore.DefaultLease
	}
	return &State{db: db, lease: opts.Lease}
}

func checkID(id string) error {
	if len(id) < 2 || len(id) > maxJobIDBytes {
		return fmt.Errorf("hook state: bad job id %q", id)
	}
	return nil
}

// jobColumns are the JobState columns, in scanJob's order.
const jobColumns = "attempts, done, outcome, exit_code, timed_out, reason, updated_at, first_attempt_at, next_attempt_at, status"

func scanJob(row pgx.Row, extra ...any) (hooks.JobState, error) {
	var js hooks.JobState
	var first, next *time.Time
	dest := append([]any{&js.Attempts, &js.Done, &js.Outcome, &js.ExitCode, &js.TimedOut, &js.Reason, &js.UpdatedAt, &first, &next, &js.Status}, extra...)
	if err := row.Scan(dest...); err != nil {
		return hooks.JobState{}, err
	}
	if first != nil {
		js.FirstAttemptAt = *first
	}
	if next != nil {
		js.NextAttemptAt = *next
	}
	return js, nil
}

// nullTime maps the zero time to NULL.
func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// Job returns a job's state (see hooks.StateStore).
func (s *State) Job(ctx context.Context, id string) (hooks.JobState, error) {
	if err := checkID(id); err != nil {
		return hooks.JobState{}, err
	}
	js, err := scanJob(s.db.Pool.QueryRow(ctx, "SELECT "+jobColumns+" FROM aimx.hook_jobs WHERE id = $1", id))
	if errors.Is(err, pgx.ErrNoRows) {
		return hooks.JobState{}, nil
	}
	if err != nil {
		return hooks.JobState{}, fmt.Errorf("read hook job %s: %w", id, err)
	}
	return js, nil
}

// jobsDoneBatch is how many ids one query of JobsDone asks about.
const jobsDoneBatch = 1000

// JobsDone reports which of ids are done, a query per thousand ids (see
// hooks.JobsReader).
func (s *State) JobsDone(ctx context.Context, ids []string) (map[string]bool, error) {
	out := map[string]bool{}
	for len(ids) > 0 {
		n := min(len(ids), jobsDoneBatch)
		rows, err := s.db.Pool.Query(ctx, "SELECT id FROM aimx.hook_jobs WHERE id = ANY($1) AND done", ids[:n])
		if err != nil {
			return nil, fmt.Errorf("read hook jobs: %w", err)
		}
		done, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return nil, fmt.Errorf("read hook jobs: %w", err)
		}
		for _, id := range done {
			out[id] = true
		}
		ids = ids[n:]
	}
	return out, nil
}

// PutJob records a job's state (see hooks.StateStore). A done job drops
// its claim; a job not done keeps whatever claim it has (this node's, when
// it records a webhook's failed try or a start that found no resources).
func (s *State) PutJob(ctx context.Context, id string, js hooks.JobState) error {
	if err := checkID(id); err != nil {
		return err
	}
	_, err := s.db.Pool.Exec(ctx, `INSERT INTO aimx.hook_jobs (id, `+jobColumns+`)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
ON CONFLICT (id) DO UPDATE SET attempts = excluded.attempts, done = excluded.done, outcome = excluded.outcome,
	exit_code = excluded.exit_code, timed_out = excluded.timed_out, reason = excluded.reason, updated_at = excluded.updated_at,
	first_attempt_at = excluded.first_attempt_at, next_attempt_at = excluded.next_attempt_at, status = excluded.status,
	claim_node = CASE WHEN excluded.done THEN NULL ELSE hook_jobs.claim_node END,
	claim_started = CASE WHEN excluded.done THEN NULL ELSE hook_jobs.claim_started END`,
		id, js.Attempts, js.Done, js.Outcome, js.ExitCode, js.TimedOut, js.Reason, js.UpdatedAt,
		nullTime(js.FirstAttemptAt), nullTime(js.NextAttemptAt), js.Status)
	if err != nil {
		return fmt.Errorf("write hook job %s: %w", id, err)
	}
	return nil
}

// PruneJobs removes old done job records (see hooks.StateStore).
func (s *State) PruneJobs(ctx context.Context, cutoff time.Time, keep map[string]bool) (int, error) {
	ids := make([]string, 0, len(keep))
	for id := range keep {
		ids = append(ids, id)
	}
	tag, err := s.db.Pool.Exec(ctx, "DELETE FROM aimx.hook_jobs WHERE done AND updated_at < $1 AND NOT (id = ANY($2))", cutoff, ids)
	if err != nil {
		return 0, fmt.Errorf("prune hook jobs: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// AddAfterSend records one delivery round's after_send work (see
// hooks.StateStore).
func (s *State) AddAfterSend(ctx context.Context, r hooks.AfterSendRecord) (bool, error) {
	names := r.Hooks
	if names == nil {
		names = []string{}
	}
	tag, err := s.db.Pool.Exec(ctx, `INSERT INTO aimx.hook_after_send (mailbox, id, round, status, hooks, recorded_at)
VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`, r.Mailbox, r.ID, r.Round, r.Status, names, r.RecordedAt)
	if err != nil {
		return false, fmt.Errorf("write after_send record %s %s round %d: %w", r.Mailbox, r.ID, r.Round, err)
	}
	return tag.RowsAffected() == 1, nil
}

// AfterSend lists the recorded rounds (see hooks.StateStore), oldest first.
func (s *State) AfterSend(ctx context.Context) ([]hooks.AfterSendRecord, error) {
	rows, err := s.db.Pool.Query(ctx, `SELECT mailbox, id, round, status, hooks, recorded_at FROM aimx.hook_after_send
ORDER BY recorded_at, mailbox, id, round`)
	if err != nil {
		return nil, fmt.Errorf("list after_send records: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (hooks.AfterSendRecord, error) {
		var rec hooks.AfterSendRecord
		err := r.Scan(&rec.Mailbox, &rec.ID, &rec.Round, &rec.Status, &rec.Hooks, &rec.RecordedAt)
		return rec, err
	})
	if err != nil {
		return nil, fmt.Errorf("list after_send records: %w", err)
	}
	return out, nil
}

// RemoveAfterSend forgets a round (see hooks.StateStore).
func (s *State) RemoveAfterSend(ctx context.Context, mailbox, id string, round int) error {
	if _, err := s.db.Pool.Exec(ctx, "DELETE FROM aimx.hook_after_send WHERE mailbox = $1 AND id = $2 AND round = $3", mailbox, id, round); err != nil {
		return fmt.Errorf("remove after_send record: %w", err)
	}
	return nil
}

// Checkpoint returns the recovery checkpoint (see hooks.StateStore); ok is
// false until one was set.
func (s *State) Checkpoint(ctx context.Context) (time.Time, bool, error) {
	var t time.Time
	err := s.db.Pool.QueryRow(ctx, "SELECT at FROM aimx.hook_checkpoint").Scan(&t)
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("read hook checkpoint: %w", err)
	}
	return t, true, nil
}

// SetCheckpoint records the recovery checkpoint, to the second (see
// hooks.StateStore). The nodes share it: each holds it back for the work
// it still sees (hooks.Scheduler), and the last write wins.
func (s *State) SetCheckpoint(ctx context.Context, t time.Time) error {
	t = t.UTC().Truncate(time.Second)
	if _, err := s.db.Pool.Exec(ctx, `INSERT INTO aimx.hook_checkpoint (one, at) VALUES (true, $1)
ON CONFLICT (one) DO UPDATE SET at = excluded.at`, t); err != nil {
		return fmt.Errorf("write hook checkpoint: %w", err)
	}
	return nil
}
