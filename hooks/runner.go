package hooks

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"

	"github.com/aimx-dev/aimx/internal/panics"
)

// Runner executes hook runs (book/hooks.md). It holds no per-run state, so one
// Runner serves any number of concurrent runs.
type Runner struct {
	// Log receives one line per run.
	Log zerolog.Logger
	// Grace is the time between SIGTERM and SIGKILL to the hook's process
	// group, and also how long the runner waits for the output pipes after
	// the hook exits before closing them. Zero means DefaultGrace.
	Grace time.Duration
	// LogTailBytes caps the stdout and stderr tails written to the log
	// line; Result keeps the full TailBytes. Zero means DefaultLogTailBytes.
	LogTailBytes int
	// Panics counts the panics the runner recovers; nil still logs them.
	Panics *panics.Counter

	// start starts the command; nil means (*exec.Cmd).Start. Tests inject
	// start failures here.
	start func(*exec.Cmd) error
}

// DefaultLogTailBytes is how much of each output tail the log line carries:
// the whole 64 KiB tail the runner keeps (book/hooks.md: "the last 64 KiB of
// stdout/stderr go to one log line").
const DefaultLogTailBytes = TailBytes

// NewRunner returns a Runner that logs to log and uses the defaults of book/hooks.md.
func NewRunner(log zerolog.Logger) *Runner {
	return &Runner{Log: log, Grace: DefaultGrace, LogTailBytes: DefaultLogTailBytes}
}

// Execute runs one hook to completion and reports what happened; it never
// returns before the hook's process is reaped. Cancelling ctx (daemon
// shutdown) stops the run like a timeout does: SIGTERM to the process group,
// SIGKILL after the grace period. Every call, started or not, writes exactly
// one "hook run" log line.
func (r *Runner) Execute(ctx context.Context, run Run) Result {
	res := r.execute(ctx, &run)
	r.logRun(&run, &res)
	return res
}

func (r *Runner) execute(ctx context.Context, run *Run) Result {
	res := Result{ExitCode: -1}
	if err := run.validate(); err != nil {
		res.Err = fmt.Errorf("hook %q: %w", run.HookName, err)
		return res
	}
	if err := ctx.Err(); err != nil {
		res.Err = fmt.Errorf("hook %q not started: %w", run.HookName, err)
		return res
	}
	timeout := run.timeout()
	grace := r.grace()
	stdout, stderr := newTailBuffer(TailBytes), newTailBuffer(TailBytes)
	cmd := &exec.Cmd{
		// Path and Args set directly: no PATH lookup, no shell (book/hooks.md).
		Path:   run.Argv[0],
		Args:   slices.Clone(run.Argv),
		Env:    run.environ(),
		Dir:    workDir(run.Owner.Home),
		Stdin:  run.Stdin,
		Stdout: stdout,
		Stderr: stderr,
		// Own process group, so a timeout reaches everything the hook
		// started (book/hooks.md). Pdeathsig kills the hook if the daemon dies
		// (a crash): the interrupted run is re-run after the restart, and
		// must not overlap a leftover of itself.
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL},
		// A process the hook left behind may hold stdout/stderr open;
		// without this, Wait would block until it exits.
		WaitDelay: grace,
	}
	if os.Geteuid() == 0 {
		// book/hooks.md: as the owner, with the owner's supplementary groups.
		// Groups is always set (even empty) so root's own groups never
		// leak into the hook.
		groups := slices.Clone(run.Owner.Groups)
		if groups == nil {
			groups = []uint32{}
		}
		cmd.SysProcAttr.Credential = &syscall.Credential{
			Uid:    uint32(run.Owner.UID),
			Gid:    uint32(run.Owner.GID),
			Groups: groups,
		}
	}

	// Pdeathsig fires when the thread that started the child exits, not
	// only the process: keep this goroutine on its thread until the hook
	// is reaped, so the Go runtime cannot retire that thread under it.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	start := r.start
	if start == nil {
		start = (*exec.Cmd).Start
	}
	res.StartedAt = time.Now()
	if err := start(cmd); err != nil {
		if isResourceErr(err) {
			res.Err = fmt.Errorf("start hook %q: %w: %w", run.HookName, ErrNoResources, err)
		} else {
			res.Err = fmt.Errorf("start hook %q: %w", run.HookName, err)
		}
		return res
	}
	done := make(chan struct{})
	stopped := make(chan stopState, 1)
	go func() {
		st := stopState{}
		defer func() {
			if p := recover(); p != nil {
				r.Panics.Recovered(r.Log.With().Str("hook", run.HookName).Logger(), "hook supervisor", p)
			}
			stopped <- st
		}()
		st = r.supervise(ctx, run.HookName, cmd.Process.Pid, timeout, grace, done)
	}()
	waitErr := cmd.Wait()
	close(done)
	st := <-stopped
	res.Duration = time.Since(res.StartedAt)

	res.TimedOut, res.Canceled, res.Killed = st.timedOut, st.canceled, st.killed
	res.Stdout, res.Stderr = stdout.Bytes(), stderr.Bytes()
	res.StdoutBytes, res.StderrBytes = stdout.Total(), stderr.Total()
	switch ws, ok := processStatus(cmd); {
	case !ok:
		// Not reaped by us (waitErr says why): no status to report.
	case ws.Signaled():
		res.Signal = ws.Signal()
		res.ExitCode = 128 + int(ws.Signal())
	default:
		res.ExitCode = ws.ExitStatus()
	}
	var exitErr *exec.ExitError
	if waitErr != nil && !errors.As(waitErr, &exitErr) {
		res.IOErr = fmt.Errorf("hook %q i/o: %w", run.HookName, waitErr)
	}
	return res
}

// processStatus is the wait status of a command Wait has returned for.
func processStatus(cmd *exec.Cmd) (syscall.WaitStatus, bool) {
	if cmd.ProcessState == nil {
		return 0, false
	}
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	return ws, ok
}

// stopState is how the supervisor ended a run.
type stopState struct {
	timedOut, canceled, killed bool
}

// supervise enforces the timeout and shutdown on the process group led by
// pid until done is closed (the process was reaped and its pipes closed).
// book/hooks.md: SIGTERM at the timeout, SIGKILL 5 s (Grace) later.
func (r *Runner) supervise(ctx context.Context, hook string, pid int, timeout, grace time.Duration, done <-chan struct{}) stopState {
	var st stopState
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-done:
		return st
	case <-timer.C:
		st.timedOut = true
	case <-ctx.Done():
		st.canceled = true
	}
	// The grace period starts before SIGTERM goes out, so it always ends
	// before Wait's pipe deadline, which starts when Wait sees the leader
	// die of that signal.
	graceEnd := time.Now().Add(grace)
	graceTimer := time.NewTimer(grace)
	defer graceTimer.Stop()
	r.signalGroup(hook, pid, syscall.SIGTERM)
	select {
	case <-done:
		// The leader is gone and the pipes are closed. Anything left in
		// the group ignored SIGTERM: it is not waited for, only killed.
		// When a leftover held the pipes, Wait's deadline closed done
		// just after the grace period ended, racing the case below; the
		// clock says the grace period was used up.
		st.killed = !time.Now().Before(graceEnd)
		r.signalGroup(hook, pid, syscall.SIGKILL)
		return st
	case <-graceTimer.C:
	}
	st.killed = true
	r.signalGroup(hook, pid, syscall.SIGKILL)
	return st
}

// signalGroup signals the whole process group. ESRCH means the group is
// already empty. The group id cannot be reused while any member lives, and
// an emptied one is only reused after the pid space wraps, which a few
// seconds do not allow.
func (r *Runner) signalGroup(hook string, pgid int, sig syscall.Signal) {
	err := syscall.Kill(-pgid, sig)
	if err != nil && !errors.Is(err, syscall.ESRCH) {
		r.Log.Error().Err(err).Str("hook", hook).Int("pgid", pgid).
			Str("signal", unix.SignalName(sig)).Msg("signal hook process group")
	}
}

func (r *Runner) grace() time.Duration {
	if r.Grace > 0 {
		return r.Grace
	}
	return DefaultGrace
}

// workDir is the owner's home when it is an existing directory, else "/"
// (book/hooks.md).
func workDir(home string) string {
	if home == "" || !filepath.IsAbs(home) {
		return "/"
	}
	fi, err := os.Stat(home)
	if err != nil || !fi.IsDir() {
		return "/"
	}
	return home
}
