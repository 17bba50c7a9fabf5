package hooks

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// JobRetention is how long the record of a finished job is kept. Records
// are consulted only for mail at or after the recovery checkpoint and for
// after_send rounds still recorded; a week is far beyond both (the
// checkpoint lags by an hour, a delivery round retries for about 21 h).
const JobRetention = 7 * 24 * time.Hour

// PruneJobs removes the records of done jobs last updated before cutoff,
// except those in keep. Jobs not done are always kept. Removals need no
// fsync: a removal lost in a crash is redone by the next prune. It returns
// how many records it removed.
func (s *State) PruneJobs(cutoff time.Time, keep map[string]bool) (int, error) {
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
			return nil // vanished, unreadable or oversized: left alone
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

// prune drops old finished job records after a recovery scan: those older
// than both JobRetention and the checkpoint, keeping every job of an
// after_send round still recorded.
func (s *Scheduler) prune() {
	s.mu.Lock()
	cutoff := s.persisted
	s.mu.Unlock()
	if limit := s.now().Add(-JobRetention); limit.Before(cutoff) || cutoff.IsZero() {
		cutoff = limit
	}
	recs, err := s.state.AfterSend()
	if err != nil {
		s.cfg.Log.Warn().Err(err).Msg("hook state: prune skipped")
		return
	}
	keep := map[string]bool{}
	for _, r := range recs {
		for _, h := range r.Hooks {
			keep[JobID(EventAfterSend, r.Mailbox, r.ID, h, r.Round)] = true
		}
	}
	n, err := s.state.PruneJobs(cutoff, keep)
	if err != nil {
		s.cfg.Log.Warn().Err(err).Msg("hook state: prune")
	}
	if n > 0 {
		s.cfg.Log.Info().Int("jobs", n).Time("before", cutoff).Msg("hook state: pruned finished job records")
	}
}
