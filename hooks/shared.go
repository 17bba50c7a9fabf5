package hooks

import (
	"context"
	"sort"
	"time"

	"github.com/rs/zerolog"
)

// DefaultRescanInterval is how often the recovery scan runs again with a
// state shared by several nodes (SchedulerConfig.RescanInterval): a job
// left by a dead node, or one no node could run when its mail arrived, is
// picked up by a live node within about this long (book/scale-out.md,
// "Hooks across nodes").
const DefaultRescanInterval = 10 * time.Second

// shared reports whether the hook state is shared by several nodes (it
// implements JobClaimer).
func (s *Scheduler) shared() bool { return s.claimer != nil }

// Owners lists the mailbox owners this node can run hooks for: the owners
// of the live config that resolve as Unix users here, sorted. With a
// shared state the node publishes it (pgstore's Register and Beat fill
// aimx.nodes.owners), so an operator sees which node runs whose hooks.
func (s *Scheduler) Owners() []string {
	seen := map[string]bool{}
	var out []string
	cfg := s.cfg.Registry.Current()
	for _, name := range cfg.MailboxNames() {
		mb, ok := cfg.Mailbox(name)
		if !ok || mb.Owner == "" || seen[mb.Owner] {
			continue
		}
		seen[mb.Owner] = true
		if _, err := s.cfg.LookupOwner(mb.Owner); err == nil {
			out = append(out, mb.Owner)
		}
	}
	sort.Strings(out)
	return out
}

// recordStart durably records a run's start before the hook exists. With
// one host it writes the start with PutJob. With a shared state it takes
// the job's claim, which may find the job done, run by another node (left
// to it), or out of starts (given up here). ok says the hook may start;
// retry that the job is to be offered again after a backoff.
func (s *Scheduler) recordStart(ctx context.Context, log zerolog.Logger, j job, js JobState) (_ JobState, ok, retry bool) {
	now := s.now().UTC()
	if !s.shared() {
		js.Attempts++
		js.UpdatedAt = now
		if err := s.state.PutJob(ctx, j.id, js); err != nil {
			log.Error().Err(err).Msg("hook state not written; job not run, retrying later")
			return js, false, true
		}
		return js, true, false
	}
	cjs, status, err := s.claimer.ClaimJob(ctx, j.id, Claim{Start: true, At: now})
	switch {
	case err != nil:
		log.Error().Err(err).Msg("hook job not claimed; job not run, retrying later")
		return js, false, true
	case status == ClaimExhausted:
		s.abandon(ctx, log, j, cjs)
	case status == ClaimHeld:
		log.Debug().Int("attempts", cjs.Attempts).Msg("hook job held by another node")
	}
	return cjs, status == ClaimTaken, false
}

// abandon gives up a job whose every start was interrupted.
func (s *Scheduler) abandon(ctx context.Context, log zerolog.Logger, j job, js JobState) {
	log.Error().Int("attempts", js.Attempts).Str("reason", reasonInterrupted).
		Msg("hook run was interrupted twice; giving up")
	s.put(ctx, log, j, JobState{Attempts: js.Attempts, Done: true, Outcome: OutcomeAbandoned, Reason: reasonInterrupted, UpdatedAt: s.now().UTC()})
}

// waitElsewhere leaves a hook job whose owner is not a Unix user on this
// node to a node where it is: nothing is recorded and no start counted.
// It logs once per job (until a scan no longer sees the job), at debug.
func (s *Scheduler) waitElsewhere(log zerolog.Logger, j job, owner string, err error) {
	s.mu.Lock()
	first := !s.waitLogged[j.id]
	s.waitLogged[j.id] = true
	s.mu.Unlock()
	if first {
		log.Debug().Err(err).Str("owner", owner).Msg("hook owner is not a user on this node; the job waits for a node where it is")
	}
}

// holdBack records, with a shared state, the jobs the scan found not done:
// until the next scan they hold the checkpoint back (checkpointLocked), so
// a job that another node runs (and may die running) or that waits for a
// node with its owner is scanned again, whichever node writes the shared
// checkpoint. Jobs the scan no longer sees are forgotten.
func (s *Scheduler) holdBack(jobs []job) {
	waiting := make(map[string]time.Time, len(jobs))
	seen := make(map[string]bool, len(jobs))
	for _, j := range jobs {
		seen[j.id] = true
		if !j.at.IsZero() {
			waiting[j.id] = j.at
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.waiting = waiting
	for id := range s.waitLogged {
		if !seen[id] {
			delete(s.waitLogged, id)
		}
	}
}
