package hooks

import (
	"context"
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

// errCheckpointMissing reports a state dir that existed at open but holds
// no checkpoint (lost, or a crash before the first one was written).
var errCheckpointMissing = errors.New("hook checkpoint missing")

// FileState is the default StateStore: files under `<data>/.spool/hooks/`
// (book/configuration.md):
//
//	jobs/<2 hex>/<job id>    one JobState per job that has started or ended
//	after_send/<key>.json    one AfterSendRecord per round with work left
//	checkpoint               the receipt time recovery scans inbound mail from
//
// Every write goes through storage.Writer; every read through the file
// layer, capped in size (book/security.md). It does not block, so it
// ignores the contexts it is given.
type FileState struct {
	dir   string
	w     *storage.Writer
	fresh bool // dir did not exist at open
}

var _ StateStore = (*FileState)(nil)

// OpenFileState opens (creating when missing) the hook state dir. A dir
// that did not exist is a new state: its Checkpoint reports none until
// one is set, so that the first start does not scan old mail.
func OpenFileState(dir string, w *storage.Writer) (*FileState, error) {
	if w == nil {
		w = &storage.Writer{}
	}
	fresh := false
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		fresh = true
	}
	for _, d := range []string{dir, filepath.Join(dir, "jobs"), filepath.Join(dir, "after_send")} {
		if err := mkdirDurable(d, 0o700, w.SyncDir); err != nil {
			return nil, fmt.Errorf("create hook state dir: %w", err)
		}
	}
	return &FileState{dir: dir, w: w, fresh: fresh}, nil
}

// Dir is the state directory.
func (s *FileState) Dir() string { return s.dir }

func (s *FileState) jobPath(id string) string {
	return filepath.Join(s.dir, "jobs", id[:2], id)
}

func checkJobID(id string) error {
	if len(id) < 2 || strings.ContainsAny(id, "/.") {
		return fmt.Errorf("hook state: bad job id %q", id)
	}
	return nil
}

// Job returns a job's state (see StateStore).
func (s *FileState) Job(_ context.Context, id string) (JobState, error) {
	var js JobState
	if err := checkJobID(id); err != nil {
		return js, err
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
func (s *FileState) PutJob(_ context.Context, id string, js JobState) error {
	if err := checkJobID(id); err != nil {
		return err
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

// PruneJobs removes old done job records (see StateStore). Removals need
// no fsync: a removal lost in a crash is redone by the next prune. A
// record that vanished, is unreadable or oversized is left alone.
func (s *FileState) PruneJobs(_ context.Context, cutoff time.Time, keep map[string]bool) (int, error) {
	root := filepath.Join(s.dir, "jobs")
	removed := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() || keep[d.Name()] {
			return nil
		}
		data, err := readStateFile(path, maxStateFileBytes)
		if err != nil {
			return nil
		}
		var js JobState
		if json.Unmarshal(data, &js) != nil || !js.Done || !js.UpdatedAt.Before(cutoff) {
			return nil
		}
		if err := os.Remove(path); err == nil {
			removed++
		}
		return nil
	})
	if err != nil {
		return removed, fmt.Errorf("prune hook jobs: %w", err)
	}
	return removed, nil
}

// Checkpoint returns the recovery checkpoint (see StateStore). A state dir
// that existed at open but has no checkpoint file reports an error, so
// recovery scans all mail rather than none.
func (s *FileState) Checkpoint(context.Context) (t time.Time, ok bool, err error) {
	data, err := readStateFile(filepath.Join(s.dir, "checkpoint"), maxStateFileBytes)
	if errors.Is(err, fs.ErrNotExist) {
		if s.fresh {
			return time.Time{}, false, nil
		}
		return time.Time{}, false, fmt.Errorf("read hook checkpoint: %w", errCheckpointMissing)
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

// SetCheckpoint durably records the scan start time, to the second.
func (s *FileState) SetCheckpoint(_ context.Context, t time.Time) error {
	data := []byte(t.UTC().Truncate(time.Second).Format(time.RFC3339) + "\n")
	if err := s.w.WriteFile(filepath.Join(s.dir, "checkpoint"), data, storage.WriteOptions{Mode: 0o600}); err != nil {
		return fmt.Errorf("write hook checkpoint: %w", err)
	}
	return nil
}

// AddAfterSend durably records one round's after_send work (see
// StateStore); the record is published without replacing, so a round
// recorded before is reported, not overwritten.
func (s *FileState) AddAfterSend(_ context.Context, r AfterSendRecord) (bool, error) {
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

// AfterSend lists the recorded rounds (see StateStore).
func (s *FileState) AfterSend(context.Context) ([]AfterSendRecord, error) {
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

// RemoveAfterSend forgets a round (see StateStore). Losing the removal to
// a crash only costs a look at done jobs at the next start.
func (s *FileState) RemoveAfterSend(_ context.Context, mailbox, id string, round int) error {
	p := filepath.Join(s.dir, "after_send", afterSendKey(mailbox, id, round)+".json")
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove after_send record: %w", err)
	}
	return nil
}
