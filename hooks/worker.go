package hooks

import (
	"context"
	"time"
)

// worker runs jobs in their owners' turns until ctx ends.
func (s *Scheduler) worker(ctx context.Context) {
	defer s.wg.Done()
	for {
		j, ok := s.queue.pop(ctx)
		if !ok {
			return
		}
		var retry bool
		var wait time.Duration
		if _, ok := webhookName(j.hook); ok {
			retry, wait = s.deliverSafe(ctx, j)
		} else {
			retry = s.runSafe(ctx, j)
		}
		s.queue.done(j)
		if retry && ctx.Err() == nil {
			s.retryLater(ctx, j, wait)
			continue
		}
		// The bookkeeping of a job that left the worker is not cut short
		// by shutdown.
		s.finish(context.WithoutCancel(ctx), j)
	}
}

// runSafe runs one job; a panic is logged with its stack and counted, and
// the job is left as it was (the recovery scan of the next start sees it).
func (s *Scheduler) runSafe(ctx context.Context, j job) (retry bool) {
	defer func() {
		if p := recover(); p != nil {
			log := s.cfg.Log.With().Str("hook", j.hook).Str("job_id", j.id).Logger()
			s.cfg.Panics.Recovered(log, "hook worker", p)
			retry = false
		}
	}()
	return s.run(ctx, j)
}

// retryLater offers a job again after wait (a webhook's next try, whose
// line is logged already) or, when wait is zero, after a backoff that
// doubles with each failure to start for lack of resources. It stays
// pending meanwhile, so the checkpoint does not pass it and an enqueue of
// the same job is absorbed.
func (s *Scheduler) retryLater(ctx context.Context, j job, wait time.Duration) {
	j.retries++
	delay := wait
	if delay <= 0 {
		delay = s.cfg.RetryBackoff
		for i := 1; i < j.retries && delay < MaxRetryBackoff; i++ {
			delay *= 2
		}
		delay = min(delay, MaxRetryBackoff)
		s.cfg.Log.Warn().Str("hook", j.hook).Str("job_id", j.id).Int("retries", j.retries).
			Int64("retry_in_ms", delay.Milliseconds()).Msg("hook job not started; retrying later")
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer func() {
			if p := recover(); p != nil {
				s.cfg.Panics.Recovered(s.cfg.Log.With().Str("job_id", j.id).Logger(), "hook retry", p)
			}
		}()
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-ctx.Done():
			// Shutdown: the job is not done, so the next start's
			// recovery scan finds it.
		case <-t.C:
			s.push(j)
		}
	}()
}

// finish forgets a job that left the worker and moves the checkpoint.
func (s *Scheduler) finish(ctx context.Context, j job) {
	s.mu.Lock()
	delete(s.pending, j.id)
	s.mu.Unlock()
	if j.event == EventAfterSend {
		s.maybeRemoveAfterSend(ctx, j)
		return
	}
	s.advance(ctx)
}

func (s *Scheduler) maybeRemoveAfterSend(ctx context.Context, j job) {
	for _, h := range j.hooks {
		js, err := s.state.Job(ctx, JobID(EventAfterSend, j.mailbox, j.msgID, h, j.round))
		if err != nil || !js.Done {
			return
		}
	}
	if err := s.state.RemoveAfterSend(ctx, j.mailbox, j.msgID, j.round); err != nil {
		s.cfg.Log.Error().Err(err).Str("mailbox", j.mailbox).Str("id", j.msgID).Msg("hook state")
	}
}

// advance moves the checkpoint forward to the oldest receipt time that may
// still have work: the oldest pending or dropped job, the running scan's
// start, and never closer to the clock than the lag. It is written when it
// crosses a minute, so steady traffic costs one small write a minute.
func (s *Scheduler) advance(ctx context.Context) {
	s.mu.Lock()
	cp := s.checkpointLocked()
	if !cp.After(s.persisted) {
		s.mu.Unlock()
		return
	}
	s.persisted = cp
	s.mu.Unlock()

	s.cpMu.Lock()
	defer s.cpMu.Unlock()
	if !cp.After(s.written) {
		return
	}
	if err := s.state.SetCheckpoint(ctx, cp); err != nil {
		s.cfg.Log.Error().Err(err).Msg("hook state")
		return
	}
	s.written = cp
}

func (s *Scheduler) checkpointLocked() time.Time {
	cp := s.now().UTC().Add(-s.lag)
	for _, held := range []map[string]time.Time{s.pending, s.waiting} {
		for _, at := range held {
			if !at.IsZero() && at.Before(cp) {
				cp = at
			}
		}
	}
	if !s.dropped.IsZero() && s.dropped.Before(cp) {
		cp = s.dropped
	}
	if s.scanning && s.scanFloor.Before(cp) {
		cp = s.scanFloor
	}
	return cp.UTC().Truncate(time.Minute)
}
