package hooks

import (
	"context"
	"errors"
	"os"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/storage"
)

// run executes one job unless it is done, skipped or given up, recording
// its start and end durably.
func (s *Scheduler) run(ctx context.Context, j job) {
	log := s.cfg.Log.With().Str("hook", j.hook).Str("event", j.event).Str("mailbox", j.mailbox).
		Str("id", j.msgID).Str("job_id", j.id).Logger()
	js, err := s.state.Job(j.id)
	if err != nil {
		log.Error().Err(err).Msg("hook state unreadable; job not run")
		return
	}
	if js.Done {
		return
	}
	mb, ok := s.cfg.Registry.Current().Mailbox(j.mailbox)
	if !ok {
		s.skip(log, j, js, reasonMailboxGone, nil)
		return
	}
	hook, ok := findHook(mb, j.hook, j.event)
	if !ok {
		// Decided: a hook deleted after the message was stored does
		// not fire for it (book/hooks.md).
		s.skip(log, j, js, reasonHookGone, nil)
		return
	}
	if js.Attempts >= MaxAttempts {
		log.Error().Int("attempts", js.Attempts).Str("reason", reasonInterrupted).
			Msg("hook run was interrupted twice; giving up")
		s.put(log, j, JobState{Attempts: js.Attempts, Done: true, Outcome: OutcomeAbandoned, Reason: reasonInterrupted, UpdatedAt: s.now().UTC()})
		return
	}
	owner, err := s.cfg.LookupOwner(mb.Owner)
	if err != nil {
		s.skip(log.With().Str("owner", mb.Owner).Logger(), j, js, reasonOwnerUnknown, err)
		return
	}
	msg, err := s.cfg.Store.Read(ctx, j.ref, j.folder, j.msgID)
	if errors.Is(err, storage.ErrNotFound) {
		s.skip(log, j, js, reasonMessageGone, nil)
		return
	}
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		s.skip(log, j, js, reasonMessageBroken, err)
		return
	}
	stdin, err := os.Open(msg.MDPath)
	if err != nil {
		s.skip(log, j, js, reasonMessageBroken, err)
		return
	}
	defer stdin.Close()
	if ctx.Err() != nil {
		return
	}
	js.Attempts++
	js.UpdatedAt = s.now().UTC()
	// The start is durable before the hook exists: a crash from here on
	// is an interrupted run.
	if err := s.state.PutJob(j.id, js); err != nil {
		log.Error().Err(err).Msg("hook state not written; job not run")
		return
	}
	fm := msg.Frontmatter
	res := s.cfg.Runner.Execute(ctx, Run{
		HookName: j.hook,
		JobID:    j.id,
		Event:    j.event,
		Argv:     hook.Cmd,
		Timeout:  time.Duration(hook.TimeoutSecs) * time.Second,
		Owner:    owner,
		Stdin:    stdin,
		Env: Vars{
			Mailbox: mb.Name, From: fm.From, To: strings.Join(fm.To, ", "), Subject: fm.Subject,
			FilePath: msg.MDPath, ID: msg.ID, MessageID: fm.MessageID, Date: fm.Date, Trusted: fm.Trusted,
			SendStatus: j.status,
		},
	})
	if res.Canceled || (res.Err != nil && ctx.Err() != nil) {
		// Shutdown stopped it: it is due again after the next start.
		return
	}
	js.Done, js.Outcome, js.ExitCode, js.TimedOut = true, OutcomeRan, res.ExitCode, res.TimedOut
	js.UpdatedAt = s.now().UTC()
	s.put(log, j, js)
}

// skip marks a job done without running it, with one log line.
func (s *Scheduler) skip(log zerolog.Logger, j job, js JobState, reason string, err error) {
	ev := log.Warn()
	if reason == reasonMessageBroken {
		ev = log.Error()
	}
	ev.Err(err).Str("reason", reason).Msg("hook skipped")
	s.put(log, j, JobState{Attempts: js.Attempts, Done: true, Outcome: OutcomeSkipped, Reason: reason, UpdatedAt: s.now().UTC()})
}

func (s *Scheduler) put(log zerolog.Logger, j job, js JobState) {
	if err := s.state.PutJob(j.id, js); err != nil {
		log.Error().Err(err).Msg("hook state not written; the job may run again after a restart")
	}
}

// findHook finds a mailbox's hook by effective name and event.
func findHook(mb domains.Mailbox, name, event string) (domains.Hook, bool) {
	for _, h := range mb.Hooks {
		if h.EffectiveName() == name && string(h.Event) == event {
			return h, true
		}
	}
	return domains.Hook{}, false
}
