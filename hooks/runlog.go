package hooks

import (
	"unicode/utf8"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"
)

// logRun writes the one structured line per run (book/hooks.md, DESIGN "Logs").
// The environment is never logged: it carries the sender's words.
func (r *Runner) logRun(run *Run, res *Result) {
	var ev *zerolog.Event
	switch {
	case res.Err != nil:
		ev = r.Log.Error().Err(res.Err)
	case res.OK() && res.IOErr == nil:
		ev = r.Log.Info()
	default:
		ev = r.Log.Warn()
	}
	ev = ev.Str("hook", run.HookName).
		Str("event", run.Event).
		Str("mailbox", run.Env.Mailbox).
		Str("owner", run.Owner.Name).
		Str("message_id", run.Env.MessageID).
		Str("job_id", run.JobID).
		Int("exit_code", res.ExitCode).
		Int64("duration_ms", res.Duration.Milliseconds()).
		Bool("timed_out", res.TimedOut)
	if res.Canceled {
		ev = ev.Bool("canceled", true)
	}
	if res.Killed {
		ev = ev.Bool("killed", true)
	}
	if res.Signal != 0 {
		ev = ev.Str("signal", unix.SignalName(res.Signal))
	}
	if res.IOErr != nil {
		ev = ev.AnErr("io_error", res.IOErr)
	}
	if res.Err == nil {
		ev = ev.Int64("stdout_bytes", res.StdoutBytes).
			Int64("stderr_bytes", res.StderrBytes).
			Str("stdout", logTail(res.Stdout, r.logTailBytes())).
			Str("stderr", logTail(res.Stderr, r.logTailBytes()))
	}
	ev.Msg("hook run")
}

func (r *Runner) logTailBytes() int {
	if r.LogTailBytes > 0 {
		return r.LogTailBytes
	}
	return DefaultLogTailBytes
}

// logTail is the last n bytes of b, starting on a UTF-8 rune boundary when
// one is near so the cut does not leave a broken character.
func logTail(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	b = b[len(b)-n:]
	for i := 0; i < utf8.UTFMax && i < len(b); i++ {
		if utf8.RuneStart(b[i]) {
			return string(b[i:])
		}
	}
	return string(b)
}
