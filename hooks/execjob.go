package hooks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/storage"
)

// run executes one job unless it is done, skipped or given up, recording
// its start and end durably. It reports retry when the job could not run
// for a passing reason (resources, a state write) and is to be offered
// again after a backoff; it is not done.
func (s *Scheduler) run(ctx context.Context, j job) (retry bool) {
	log := s.cfg.Log.With().Str("hook", j.hook).Str("event", j.event).Str("mailbox", j.mailbox).
		Str("id", j.msgID).Str("job_id", j.id).Logger()
	js, err := s.state.Job(ctx, j.id)
	if err != nil {
		log.Error().Err(err).Msg("hook state unreadable; job not run")
		return isResourceErr(err)
	}
	if js.Done {
		return false
	}
	mb, ok := s.cfg.Registry.Current().Mailbox(j.mailbox)
	if !ok {
		s.skip(ctx, log, j, js, reasonMailboxGone, nil)
		return false
	}
	hook, ok := findHook(mb, j.hook, j.event)
	if !ok {
		// Decided: a hook deleted after the message was stored does
		// not fire for it (book/hooks.md).
		s.skip(ctx, log, j, js, reasonHookGone, nil)
		return false
	}
	// With a shared state the claim checks the starts left (recordStart):
	// another node may be running the last one.
	if !s.shared() && js.Attempts >= MaxAttempts {
		s.abandon(ctx, log, j, js)
		return false
	}
	owner, err := s.cfg.LookupOwner(mb.Owner)
	if err != nil && s.shared() {
		s.waitElsewhere(log, j, mb.Owner, err)
		return false
	}
	if err != nil {
		s.skip(ctx, log.With().Str("owner", mb.Owner).Logger(), j, js, reasonOwnerUnknown, err)
		return false
	}
	if s.seams.beforeOpen != nil {
		s.seams.beforeOpen(j)
	}
	// The .md is opened once, safely (no symlink, no FIFO, size capped),
	// and that open file is both what the frontmatter is decoded from and
	// the hook's stdin: the hook reads what the daemon checked, never a
	// path re-resolved after an owner could have swapped it
	// (book/security.md).
	md, fm, err := s.openMessage(ctx, j)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		s.skip(ctx, log, j, js, reasonMessageGone, nil)
		return false
	case err != nil && ctx.Err() != nil:
		return false
	case err != nil && isResourceErr(err):
		log.Warn().Err(err).Msg("hook message not opened for lack of resources; retrying later")
		return true
	case err != nil:
		s.skip(ctx, log, j, js, reasonMessageBroken, err)
		return false
	}
	defer md.Close()
	if s.seams.beforeExec != nil {
		s.seams.beforeExec(j)
	}
	if ctx.Err() != nil {
		return false
	}
	// The start is durable before the hook exists: a crash from here on
	// is an interrupted run.
	js, started, retry := s.recordStart(ctx, log, j, js)
	if !started {
		return retry
	}
	// With the file store the hook reads the very descriptor checked
	// above, and AIMX_FILEPATH names it for the owner to read again with
	// its own rights; a store without files gives the bytes through a
	// pipe and no path (book/hooks.md).
	var stdin io.Reader = md.Reader()
	filePath := ""
	if f := md.OSFile(); f != nil {
		stdin, filePath = f, f.Name()
	}
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
			FilePath: filePath, ID: j.msgID, MessageID: fm.MessageID, Date: fm.Date, Trusted: fm.Trusted,
			SendStatus: j.status,
		},
	})
	if res.Canceled || (res.Err != nil && ctx.Err() != nil) {
		// Shutdown stopped it: it is due again after the next start.
		return false
	}
	if errors.Is(res.Err, ErrNoResources) {
		// Never started, for a reason that passes (no file descriptors,
		// no memory, the owner's process limit): not an attempt, and not
		// done. The runner's line has the error.
		js.Attempts--
		js.UpdatedAt = s.now().UTC()
		s.put(ctx, log, j, js)
		return true
	}
	s.last.record(j.hook, res, s.now())
	js.Done, js.Outcome, js.ExitCode, js.TimedOut = true, OutcomeRan, res.ExitCode, res.TimedOut
	js.UpdatedAt = s.now().UTC()
	s.put(ctx, log, j, js)
	return false
}

// maxFrontmatterBytes bounds what is read of a .md to decode its
// frontmatter: the store's own cap (storage.MaxFrontmatterBytes). A
// frontmatter that does not close within it is refused as unreadable.
const maxFrontmatterBytes = storage.MaxFrontmatterBytes

// openMessage opens the job's .md through the store and decodes its
// frontmatter from that open file. The caller closes the file.
func (s *Scheduler) openMessage(ctx context.Context, j job) (*storage.MessageFile, *storage.Frontmatter, error) {
	md, err := s.cfg.Store.OpenMD(ctx, j.ref, j.folder, j.msgID)
	if err != nil {
		return nil, nil, fmt.Errorf("open message: %w", err)
	}
	// ReadAt leaves the file offset at 0, where the hook starts reading.
	head := make([]byte, min(md.Size(), maxFrontmatterBytes))
	if _, err := md.ReadAt(head, 0); err != nil && !errors.Is(err, io.EOF) {
		md.Close()
		return nil, nil, fmt.Errorf("read message %s: %w", j.msgID, err)
	}
	fm, _, err := storage.DecodeMD(head)
	if err != nil {
		md.Close()
		return nil, nil, fmt.Errorf("read message %s: %w", j.msgID, err)
	}
	return md, fm, nil
}

// skip marks a job done without running it, with one log line.
func (s *Scheduler) skip(ctx context.Context, log zerolog.Logger, j job, js JobState, reason string, err error) {
	ev := log.Warn()
	if reason == reasonMessageBroken {
		ev = log.Error()
	}
	ev.Err(err).Str("reason", reason).Msg("hook skipped")
	s.put(ctx, log, j, JobState{Attempts: js.Attempts, Done: true, Outcome: OutcomeSkipped, Reason: reason, UpdatedAt: s.now().UTC()})
}

// put records a job's state. A run that ended is recorded even when
// shutdown began meanwhile: the write does not inherit ctx's cancel.
func (s *Scheduler) put(ctx context.Context, log zerolog.Logger, j job, js JobState) {
	if err := s.state.PutJob(context.WithoutCancel(ctx), j.id, js); err != nil {
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
