package hooks

import (
	"context"
	"time"
)

// JobRetention is how long the record of a finished job is kept. Records
// are consulted only for mail at or after the recovery checkpoint and for
// after_send rounds still recorded; a week is far beyond both (the
// checkpoint lags by an hour, a delivery round retries for about 21 h).
const JobRetention = 7 * 24 * time.Hour

// prune drops old finished job records after a recovery scan: those older
// than both JobRetention and the checkpoint, keeping every job of an
// after_send round still recorded.
func (s *Scheduler) prune(ctx context.Context) {
	s.mu.Lock()
	cutoff := s.persisted
	s.mu.Unlock()
	if limit := s.now().Add(-JobRetention); limit.Before(cutoff) || cutoff.IsZero() {
		cutoff = limit
	}
	recs, err := s.state.AfterSend(ctx)
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
	n, err := s.state.PruneJobs(ctx, cutoff, keep)
	if err != nil {
		s.cfg.Log.Warn().Err(err).Msg("hook state: prune")
	}
	if n > 0 {
		s.cfg.Log.Info().Int("jobs", n).Time("before", cutoff).Msg("hook state: pruned finished job records")
	}
}
