package hooks

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/aimx-dev/aimx/domains"
)

// Hook events (book/hooks.md), as the untyped strings job ids and AIMX_EVENT
// carry; their one home is domains.Event.
const (
	// EventOnReceive fires once per message stored in a mailbox.
	EventOnReceive = string(domains.EventOnReceive)
	// EventAfterSend fires once per delivery round of a sent message.
	EventAfterSend = string(domains.EventAfterSend)
)

// DefaultTimeout is the run time limit when a Run carries none (book/hooks.md
// `timeout_secs` default).
const DefaultTimeout = 60 * time.Second

// DefaultGrace is how long a hook has between SIGTERM and SIGKILL (book/hooks.md).
const DefaultGrace = 5 * time.Second

// hookPath is the only PATH a hook sees (book/hooks.md): nothing of the daemon's
// environment is inherited.
const hookPath = "/usr/local/bin:/usr/bin:/bin"

// maxVarBytes caps one AIMX_* value. Linux refuses to exec when a single
// environment string exceeds 128 KiB (MAX_ARG_STRLEN), so an absurd header
// must not be able to stop a hook from starting; no legitimate subject or
// recipient list comes near this.
const maxVarBytes = 32 << 10

// ErrInvalidRun marks a Run the runner refuses before exec: no argv, a
// relative cmd[0], an unknown event or a missing owner.
var ErrInvalidRun = errors.New("invalid hook run")

// ErrNoResources marks a run that could not start for a reason that
// passes: the daemon or the owner was out of file descriptors, memory or
// processes (EMFILE, ENFILE, ENOMEM, EAGAIN or ENOBUFS from pipe2, fork or
// exec). The scheduler retries such a job later and never records it as
// done; a start failure for any other reason (a missing command, an exec
// format error) is final.
var ErrNoResources = errors.New("out of resources")

// isResourceErr reports whether err is a shortage that passes.
func isResourceErr(err error) bool {
	for _, e := range []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.ENOMEM, syscall.EAGAIN, syscall.ENOBUFS} {
		if errors.Is(err, e) {
			return true
		}
	}
	return errors.Is(err, ErrNoResources)
}

// Owner is the Unix user a hook runs as: the mailbox owner
// (book/configuration.md), resolved by domains.LookupOwner so the
// supplementary groups are the owner's own.
type Owner = domains.Owner

// Vars are the message-dependent AIMX_* values a hook sees (book/hooks.md). The
// run-dependent ones (AIMX_HOOK_NAME, AIMX_JOB_ID, AIMX_EVENT) come from Run.
// Every variable is always set, empty when unknown, so a hook can rely on it
// being present.
type Vars struct {
	Mailbox    string // AIMX_MAILBOX: the mailbox FQDN
	From       string // AIMX_FROM: frontmatter `from`
	To         string // AIMX_TO: the recipients
	Subject    string // AIMX_SUBJECT: decoded subject, untrusted bytes
	FilePath   string // AIMX_FILEPATH: absolute path of the .md
	ID         string // AIMX_ID: the message id (stem)
	MessageID  string // AIMX_MESSAGE_ID: Message-ID without <>
	Date       string // AIMX_DATE: frontmatter `date`
	Trusted    string // AIMX_TRUSTED: "true", "false" or "none"
	SendStatus string // AIMX_SEND_STATUS: delivery_status, after_send only
}

// Run is one execution of one hook for one message.
type Run struct {
	// HookName is the hook's effective name (AIMX_HOOK_NAME).
	HookName string
	// JobID identifies the job; it is stable across a re-run after a crash
	// so hooks can be idempotent (AIMX_JOB_ID).
	JobID string
	// Event is EventOnReceive or EventAfterSend (AIMX_EVENT).
	Event string
	// Argv is exec'd directly, never through a shell; Argv[0] is absolute.
	Argv []string
	// Timeout bounds the run; zero means DefaultTimeout.
	Timeout time.Duration
	// Owner is who the hook runs as when the daemon is root.
	Owner Owner
	// Env holds the message's AIMX_* values.
	Env Vars
	// Stdin is the message's .md; nil gives the hook /dev/null. An *os.File
	// is handed to the hook as is, anything else is copied through a pipe
	// and must not block forever (a file or bytes, not a network stream):
	// Execute returns only once that copy has ended.
	Stdin io.Reader
}

// Result is what one run did. Stdout and Stderr hold at most TailBytes each.
type Result struct {
	// ExitCode is the hook's exit status; 128+n when signal n ended it (as a
	// shell reports it); -1 when it never started.
	ExitCode int
	// Signal is the signal that ended the hook, 0 when it exited.
	Signal syscall.Signal
	// StartedAt is when the process was started.
	StartedAt time.Time
	// Duration runs from start until the process was reaped and its output
	// pipes closed.
	Duration time.Duration
	// TimedOut reports that the timeout expired and the group got SIGTERM.
	TimedOut bool
	// Canceled reports that the context ended first (daemon shutdown) and
	// the group got SIGTERM; such a run did not finish and is due again.
	Canceled bool
	// Killed reports that the grace period expired too and the group got
	// SIGKILL.
	Killed bool
	// Stdout and Stderr are the last TailBytes of each stream.
	Stdout, Stderr []byte
	// StdoutBytes and StderrBytes count everything the hook wrote, so a
	// caller can tell that the tail was cut.
	StdoutBytes, StderrBytes int64
	// Err is set when the hook could not be started (invalid run, exec
	// failure, context already done); the other fields then say nothing.
	// It wraps ErrNoResources when the cause passes and a retry may work.
	Err error
	// IOErr is set when the hook ran but its I/O went wrong: stdin could
	// not be read, or a process it left behind still held stdout/stderr
	// when the grace period after its exit ran out (exec.ErrWaitDelay;
	// reported only when the exit status was 0) and the pipes were closed.
	IOErr error
}

// OK reports whether the hook started, finished on its own and exited 0.
func (r Result) OK() bool {
	return r.Err == nil && r.ExitCode == 0 && !r.TimedOut && !r.Canceled
}

// validate refuses what must never reach exec.
func (run *Run) validate() error {
	if len(run.Argv) == 0 || run.Argv[0] == "" {
		return fmt.Errorf("%w: empty cmd", ErrInvalidRun)
	}
	// book/hooks.md: cmd[0] absolute, no PATH search.
	if !filepath.IsAbs(run.Argv[0]) {
		return fmt.Errorf("%w: cmd[0] %q is not an absolute path", ErrInvalidRun, run.Argv[0])
	}
	for i, a := range run.Argv {
		if strings.IndexByte(a, 0) >= 0 {
			return fmt.Errorf("%w: cmd[%d] contains a NUL byte", ErrInvalidRun, i)
		}
	}
	if run.Event != EventOnReceive && run.Event != EventAfterSend {
		return fmt.Errorf("%w: unknown event %q", ErrInvalidRun, run.Event)
	}
	if run.Owner.Name == "" {
		return fmt.Errorf("%w: no owner", ErrInvalidRun)
	}
	if run.Timeout < 0 {
		return fmt.Errorf("%w: negative timeout %s", ErrInvalidRun, run.Timeout)
	}
	return nil
}

// timeout is the run's time limit, DefaultTimeout when unset.
func (run *Run) timeout() time.Duration {
	if run.Timeout == 0 {
		return DefaultTimeout
	}
	return run.Timeout
}

// environ is the hook's whole environment (book/hooks.md), in a fixed order.
func (run *Run) environ() []string {
	home := run.Owner.Home
	if home == "" {
		home = "/"
	}
	env := []string{
		"PATH=" + hookPath,
		"HOME=" + envValue(home),
		"AIMX_HOOK_NAME=" + envValue(run.HookName),
		"AIMX_JOB_ID=" + envValue(run.JobID),
		"AIMX_EVENT=" + envValue(run.Event),
		"AIMX_MAILBOX=" + envValue(run.Env.Mailbox),
		"AIMX_FROM=" + envValue(run.Env.From),
		"AIMX_TO=" + envValue(run.Env.To),
		"AIMX_SUBJECT=" + envValue(run.Env.Subject),
		"AIMX_FILEPATH=" + envValue(run.Env.FilePath),
		"AIMX_ID=" + envValue(run.Env.ID),
		"AIMX_MESSAGE_ID=" + envValue(run.Env.MessageID),
		"AIMX_DATE=" + envValue(run.Env.Date),
		"AIMX_TRUSTED=" + envValue(run.Env.Trusted),
	}
	if run.Event == EventAfterSend {
		env = append(env, "AIMX_SEND_STATUS="+envValue(run.Env.SendStatus))
	}
	return env
}

// envValue makes v passable through execve: NUL bytes (which cannot be) are
// dropped and the value is cut to maxVarBytes on a UTF-8 boundary. Every
// other byte, newlines and shell metacharacters included, passes literally.
func envValue(v string) string {
	if strings.IndexByte(v, 0) >= 0 {
		v = strings.ReplaceAll(v, "\x00", "")
	}
	if len(v) <= maxVarBytes {
		return v
	}
	cut := maxVarBytes
	for cut > maxVarBytes-utf8.UTFMax && !utf8.RuneStart(v[cut]) {
		cut--
	}
	return v[:cut]
}
