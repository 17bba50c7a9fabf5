package hooks

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aimx-dev/aimx/storage"
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
}

// Job outcomes of a done JobState.
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

// State is the durable hook state under `<data>/.spool/hooks/` (book/configuration.md):
//
//	jobs/<2 hex>/<job id>    one JobState per job that has started or ended
//	after_send/<key>.json    one AfterSendRecord per round with work left
//	checkpoint               the receipt time recovery scans inbound mail from
//
// Every write goes through storage.Writer. Inbound work itself is not stored
// here: it is the hooks_due field of the stored .md (book/storage.md).
type State struct {
	dir string
	w   *storage.Writer
}

// OpenState opens (creating when missing) the hook state dir. fresh reports
// that it did not exist, so that the first start does not scan old mail.
func OpenState(dir string, w *storage.Writer) (st *State, fresh bool, err error) {
	if w == nil {
		w = &storage.Writer{}
	}
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		fresh = true
	}
	for _, d := range []string{dir, filepath.Join(dir, "jobs"), filepath.Join(dir, "after_send")} {
		if err := mkdirDurable(d, 0o700, w.SyncDir); err != nil {
			return nil, false, fmt.Errorf("create hook state dir: %w", err)
		}
	}
	return &State{dir: dir, w: w}, fresh, nil
}

// Dir is the state directory.
func (s *State) Dir() string { return s.dir }

func (s *State) jobPath(id string) string {
	return filepath.Join(s.dir, "jobs", id[:2], id)
}

// Job returns a job's state; a job never started has the zero JobState.
func (s *State) Job(id string) (JobState, error) {
	var js JobState
	if len(id) < 2 || strings.ContainsAny(id, "/.") {
		return js, fmt.Errorf("hook state: bad job id %q", id)
	}
	data, err := readStateFile(s.jobPath(id), maxStateFileBytes)
	if errors.Is(err, fs.ErrNotExist) {
		return js, nil
	}
	if err != nil {
		return js, fmt.Errorf("read hook job %s: %w", id, err)
	}
	if err := json.Unmarshal(data, &js); err != nil {
		return js, fmt.Errorf("read hook job %s: %w", id, err)
	}
	return js, nil
}

// PutJob durably records a job's state.
func (s *State) PutJob(id string, js JobState) error {
	if len(id) < 2 || strings.ContainsAny(id, "/.") {
		return fmt.Errorf("hook state: bad job id %q", id)
	}
	data, err := json.Marshal(js)
	if err != nil {
		return fmt.Errorf("encode hook job %s: %w", id, err)
	}
	p := s.jobPath(id)
	// The shard dir is made durable before the record lands in it: a
	// record whose directory entry is lost in a crash is lost too.
	if err := mkdirDurable(filepath.Dir(p), 0o700, s.w.SyncDir); err != nil {
		return fmt.Errorf("write hook job %s: %w", id, err)
	}
	if err := s.w.WriteFile(p, append(data, '\n'), storage.WriteOptions{Mode: 0o600}); err != nil {
		return fmt.Errorf("write hook job %s: %w", id, err)
	}
	return nil
}

// Checkpoint returns the receipt time from which recovery scans inbound
// mail; ok is false when none was written yet.
func (s *State) Checkpoint() (t time.Time, ok bool, err error) {
	data, err := readStateFile(filepath.Join(s.dir, "checkpoint"), maxStateFileBytes)
	if errors.Is(err, fs.ErrNotExist) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("read hook checkpoint: %w", err)
	}
	t, err = time.Parse(time.RFC3339, strings.TrimSpace(string(data)))
	if err != nil {
		return time.Time{}, false, fmt.Errorf("read hook checkpoint: %w", err)
	}
	return t, true, nil
}

// SetCheckpoint durably records the scan start time.
func (s *State) SetCheckpoint(t time.Time) error {
	data := []byte(t.UTC().Truncate(time.Second).Format(time.RFC3339) + "\n")
	if err := s.w.WriteFile(filepath.Join(s.dir, "checkpoint"), data, storage.WriteOptions{Mode: 0o600}); err != nil {
		return fmt.Errorf("write hook checkpoint: %w", err)
	}
	return nil
}

// afterSendKey names the record of one round of one sent message.
func afterSendKey(mailbox, id string, round int) string {
	return JobID(EventAfterSend, mailbox, id, "", round)
}

// AddAfterSend durably records one round's after_send work. It reports
// false, writing nothing, when that round was recorded before.
func (s *State) AddAfterSend(r AfterSendRecord) (bool, error) {
	data, err := json.Marshal(r)
	if err != nil {
		return false, fmt.Errorf("encode after_send record: %w", err)
	}
	p := filepath.Join(s.dir, "after_send", afterSendKey(r.Mailbox, r.ID, r.Round)+".json")
	err = s.w.WriteFile(p, append(data, '\n'), storage.WriteOptions{Mode: 0o600, NoReplace: true})
	if errors.Is(err, storage.ErrExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("write after_send record %s %s round %d: %w", r.Mailbox, r.ID, r.Round, err)
	}
	return true, nil
}

// AfterSend lists the recorded rounds that may still have work.
func (s *State) AfterSend() ([]AfterSendRecord, error) {
	dir := filepath.Join(s.dir, "after_send")
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list after_send records: %w", err)
	}
	var out []AfterSendRecord
	for _, d := range des {
		if strings.HasPrefix(d.Name(), ".") || !strings.HasSuffix(d.Name(), ".json") {
			continue
		}
		data, err := readStateFile(filepath.Join(dir, d.Name()), maxStateFileBytes)
		if err != nil {
			return nil, fmt.Errorf("read after_send record: %w", err)
		}
		var r AfterSendRecord
		if err := json.Unmarshal(data, &r); err != nil {
			return nil, fmt.Errorf("read after_send record %s: %w", d.Name(), err)
		}
		out = append(out, r)
	}
	return out, nil
}

// RemoveAfterSend forgets a round whose jobs are all done. Losing the
// removal to a crash only costs a look at done jobs at the next start.
func (s *State) RemoveAfterSend(mailbox, id string, round int) error {
	p := filepath.Join(s.dir, "after_send", afterSendKey(mailbox, id, round)+".json")
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove after_send record: %w", err)
	}
	return nil
}
