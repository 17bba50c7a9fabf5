package hooks

import (
	"context"
	"sort"
	"time"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/storage"
)

// scanPage is how many messages one List call of the recovery scan reads.
const scanPage = 200

// scanner runs the recovery scan at start and whenever the queue had to
// drop work, and with a shared state also every RescanInterval.
func (s *Scheduler) scanner(ctx context.Context) {
	defer s.wg.Done()
	var tick <-chan time.Time
	if s.shared() {
		t := time.NewTicker(s.cfg.RescanInterval)
		defer t.Stop()
		tick = t.C
	}
	for {
		periodic := false
		select {
		case <-ctx.Done():
			return
		case <-s.rescan:
		case <-tick:
			periodic = true
		}
		s.scanSafe(ctx, periodic)
	}
}

func (s *Scheduler) scanSafe(ctx context.Context, periodic bool) {
	defer func() {
		if p := recover(); p != nil {
			s.cfg.Panics.Recovered(s.cfg.Log, "hook recovery scan", p)
		}
	}()
	s.mu.Lock()
	from := s.persisted
	if !s.dropped.IsZero() && s.dropped.Before(from) {
		from = s.dropped
	}
	s.dropped = time.Time{}
	s.scanning, s.scanFloor = true, from
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.scanning = false
		s.mu.Unlock()
		s.advance(context.WithoutCancel(ctx))
	}()
	n := s.scan(ctx, from)
	if n > 0 {
		// A periodic scan re-offers jobs other nodes run or wait for.
		ev := s.cfg.Log.Info()
		if periodic {
			ev = s.cfg.Log.Debug()
		}
		ev.Int("jobs", n).Time("since", from).Msg("hook recovery: due and interrupted runs queued")
	}
	s.prune(ctx)
}

// scan queues every job that is due and not done: the on_receive hooks in
// the hooks_due of inbound mail received at or after from, oldest first,
// and the after_send rounds still recorded. It returns how many it queued.
func (s *Scheduler) scan(ctx context.Context, from time.Time) int {
	var jobs []job
	cfg := s.cfg.Registry.Current()
	for _, name := range cfg.MailboxNames() {
		if domains.IsCatchall(name) {
			continue
		}
		jobs = append(jobs, s.scanMailbox(ctx, name, from)...)
	}
	sort.SliceStable(jobs, func(a, b int) bool {
		if !jobs[a].at.Equal(jobs[b].at) {
			return jobs[a].at.Before(jobs[b].at)
		}
		return jobs[a].msgID < jobs[b].msgID
	})
	recs, err := s.state.AfterSend(ctx)
	if err != nil {
		s.cfg.Log.Error().Err(err).Msg("hook recovery: after_send records")
	}
	// The rounds' jobs are looked up together; a round with none left is
	// forgotten.
	var all []job
	for _, rec := range recs {
		all = append(all, afterSendJobs(rec)...)
	}
	left := s.notDone(ctx, all)
	open := map[string]bool{}
	for _, j := range left {
		open[afterSendKey(j.mailbox, j.msgID, j.round)] = true
	}
	for _, rec := range recs {
		if open[afterSendKey(rec.Mailbox, rec.ID, rec.Round)] {
			continue
		}
		if err := s.state.RemoveAfterSend(ctx, rec.Mailbox, rec.ID, rec.Round); err != nil {
			s.cfg.Log.Error().Err(err).Msg("hook state")
		}
	}
	jobs = append(jobs, left...)
	if s.shared() {
		s.holdBack(jobs)
	}
	n := 0
	for _, j := range jobs {
		if err := s.offerWait(ctx, j); err != nil {
			return n
		}
		n++
	}
	return n
}

// scanMailbox lists one inbox from a receipt time and returns its jobs
// that are not done.
func (s *Scheduler) scanMailbox(ctx context.Context, name string, from time.Time) []job {
	ref := domains.MailboxRef(name)
	var out []job
	for offset := 0; ; offset += scanPage {
		res, err := s.cfg.Store.List(ctx, storage.ListQuery{Mailbox: ref, Folder: storage.Inbox, Since: from, Limit: scanPage, Offset: offset})
		if err != nil {
			if ctx.Err() == nil {
				s.cfg.Log.Error().Err(err).Str("mailbox", name).Msg("hook recovery: list inbox")
			}
			return out
		}
		var js []job
		for _, m := range res.Messages {
			fm := m.Frontmatter
			for _, h := range fm.HooksDue {
				js = append(js, job{
					id: JobID(EventOnReceive, name, m.ID, h, 0), event: EventOnReceive, mailbox: name,
					ref: ref, folder: storage.Inbox, msgID: m.ID, hook: h, at: fm.ReceivedAt,
				})
			}
		}
		out = append(out, s.notDone(ctx, js)...)
		if offset+scanPage >= res.Total {
			return out
		}
	}
}

// notDone keeps the jobs whose state is not done (unreadable state counts
// as not done: the worker reports it). A state that reads many jobs at
// once (JobsReader) is asked once.
func (s *Scheduler) notDone(ctx context.Context, jobs []job) []job {
	var out []job
	if r, ok := s.state.(JobsReader); ok && len(jobs) > 0 {
		ids := make([]string, len(jobs))
		for i, j := range jobs {
			ids[i] = j.id
		}
		done, err := r.JobsDone(ctx, ids)
		for _, j := range jobs {
			if err != nil || !done[j.id] {
				out = append(out, j)
			}
		}
		return out
	}
	for _, j := range jobs {
		js, err := s.state.Job(ctx, j.id)
		if err == nil && js.Done {
			continue
		}
		out = append(out, j)
	}
	return out
}
