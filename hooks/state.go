package hooks

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"
)

// MaxAttempts is how many times one job may start: the first run and, when
// a crash interrupted it, one re-run (book/hooks.md). A job whose re-run was
// interrupted too is given up with an error log.
const MaxAttempts = 2

// JobID is the stable identity of one job: one hook for one message (and,
// for after_send, one delivery round). It is 16 hex digits of sha256 over
// the fields joined by 0x1F, so it is the same on every re-run and after a
// restart, and hooks can use AIMX_JOB_ID to be idempotent (book/hooks.md).
func JobID(event, mailbox, messageID, hook string, round int) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x1f%s\x1f%s\x1f%s\x1f%d", event, mailbox, messageID, hook, round)
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// JobState is what the hook state remembers about one job. It is written
// durably when a run starts and when it ends, so a crash in between is seen
// as an interrupted run.
type JobState struct {
	// Attempts counts the runs started.
	Attempts int `json:"attempts"`
	// Done is set when the job needs nothing more: it ran to an end
	// (whatever its exit code), or it was skipped or given up.
	Done bool `json:"done,omitempty"`
	// Outcome says how a done job ended: "ran", "skipped" or "abandoned".
	Outcome  string `json:"outcome,omitempty"`
	ExitCode int    `json:"exit_code,omitempty"`
	TimedOut bool   `json:"timed_out,omitempty"`
	// Reason is why a job was skipped or abandoned.
	Reason    string    `json:"reason,omitempty"`
	UpdatedAt time.Time `json:"updated_at"`

	// A webhook job (book/webhooks.md) counts its tries in Attempts and
	// also keeps when the first was made (retries end a day later), when
	// the next is due, and the HTTP status of the last (0: no response).
	FirstAttemptAt time.Time `json:"first_attempt_at,omitzero"`
	NextAttemptAt  time.Time `json:"next_attempt_at,omitzero"`
	Status         int       `json:"status,omitempty"`
}

// Job outcomes of a done JobState (and OutcomeDelivered for a webhook).
const (
	OutcomeRan       = "ran"
	OutcomeSkipped   = "skipped"
	OutcomeAbandoned = "abandoned"
)

// AfterSendRecord is the durable record of one delivery round's after_send
// work for one sent message (book/hooks.md): the hooks that were configured when
// the round ended and the delivery status they are told about.
type AfterSendRecord struct {
	Mailbox    string    `json:"mailbox"`
	ID         string    `json:"id"`
	Round      int       `json:"round"`
	Status     string    `json:"status"`
	Hooks      []string  `json:"hooks"`
	RecordedAt time.Time `json:"recorded_at"`
}

// StateStore is the durable hook state (book/hooks.md): what the scheduler
// and its recovery scan remember between runs and across restarts. Inbound
// work itself is not in it: it is the hooks_due of each stored message
// (book/storage.md), read through the message store.
//
// Every write returns only once it would survive a crash. FileState, under
// `<data>/.spool/hooks`, is the default; a backend for many hosts (a
// database) implements the same methods, and the scheduler takes it as
// SchedulerConfig.State. The scheduler passes a context that is not
// canceled by shutdown to the writes that record a run's end, so a
// backend may honour ctx everywhere.
type StateStore interface {
	// Job returns a job's state; a job never started has the zero
	// JobState and no error.
	Job(ctx context.Context, id string) (JobState, error)
	// PutJob records a job's state, replacing what was there.
	PutJob(ctx context.Context, id string, js JobState) error
	// PruneJobs removes the records of done jobs last updated before
	// cutoff, except those in keep, and reports how many it removed. Jobs
	// not done are always kept.
	PruneJobs(ctx context.Context, cutoff time.Time, keep map[string]bool) (int, error)

	// AddAfterSend records one delivery round's after_send work. It
	// reports false, changing nothing, when that round (mailbox, id and
	// round) was recorded before.
	AddAfterSend(ctx context.Context, r AfterSendRecord) (bool, error)
	// AfterSend lists the recorded rounds that may still have work.
	AfterSend(ctx context.Context) ([]AfterSendRecord, error)
	// RemoveAfterSend forgets a round whose jobs are all done; forgetting
	// one that is not recorded is no error.
	RemoveAfterSend(ctx context.Context, mailbox, id string, round int) error

	// Checkpoint returns the receipt time from which recovery scans
	// inbound mail. ok is false when none was ever recorded: a new state,
	// whose first start scans no old mail. An error makes the scheduler
	// scan all mail, which is safe (done jobs are skipped), only slower.
	Checkpoint(ctx context.Context) (t time.Time, ok bool, err error)
	// SetCheckpoint records the receipt time recovery scans from.
	SetCheckpoint(ctx context.Context, t time.Time) error
}

// afterSendKey names the record of one round of one sent message.
func afterSendKey(mailbox, id string, round int) string {
	return JobID(EventAfterSend, mailbox, id, "", round)
}
