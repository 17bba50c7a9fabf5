package hooks

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestM2_ResourceStartFailureIsRetried: a hook whose start fails for lack of
// file descriptors (pipe2: EMFILE, injected through the runner's start
// seam) is not recorded as done (the old code marked it ran with exit -1
// and lost it): it is tried again after the backoff, runs, and only then
// is done, with one attempt counted.
func TestM2_ResourceStartFailureIsRetried(t *testing.T) {
	t.Parallel()
	e := newSchedEnv(t, testConfig(onReceive("h1", "/bin/true")), "")
	runner, _ := testRunner(time.Second)
	var starts atomic.Int32
	runner.start = func(cmd *exec.Cmd) error {
		if starts.Add(1) == 1 {
			return &os.SyscallError{Syscall: "pipe2", Err: syscall.EMFILE}
		}
		return cmd.Start()
	}
	rec := &recordingExec{r: runner, results: make(chan Result, 4)}
	e.opts.Runner = rec
	e.opts.RetryBackoff = time.Millisecond
	e.opts.LookupOwner = func(string) (Owner, error) { return currentOwner(t, "/"), nil }
	s := e.start()
	st := e.put("emfile", time.Now(), "h1")
	s.Enqueue(received(st))
	first := rec.next(t)
	if !errors.Is(first.Err, ErrNoResources) || !errors.Is(first.Err, syscall.EMFILE) {
		t.Fatalf("first result err %v, want ErrNoResources wrapping EMFILE", first.Err)
	}
	second := rec.next(t)
	if !second.OK() {
		t.Fatalf("retried run %+v", second)
	}
	jid := JobID(EventOnReceive, testMailbox, st.ID, "h1", 0)
	waitFor(t, func() bool { return e.job(jid).Done })
	if js := e.job(jid); js.Outcome != OutcomeRan || js.ExitCode != 0 || js.Attempts != 1 {
		t.Errorf("job %+v, want ran once with exit 0", js)
	}
}

// TestM2_PermanentStartFailureIsDone: a start failure that does not pass (no
// such command) is final, as before: done, exit -1, never retried.
func TestM2_PermanentStartFailureIsDone(t *testing.T) {
	t.Parallel()
	e := newSchedEnv(t, testConfig(onReceive("h1", "/nonexistent/hook")), "")
	runner, _ := testRunner(time.Second)
	rec := &recordingExec{r: runner, results: make(chan Result, 4)}
	e.opts.Runner = rec
	e.opts.RetryBackoff = time.Millisecond
	e.opts.LookupOwner = func(string) (Owner, error) { return currentOwner(t, "/"), nil }
	s := e.start()
	st := e.put("enoent", time.Now(), "h1")
	s.Enqueue(received(st))
	res := rec.next(t)
	if res.Err == nil || errors.Is(res.Err, ErrNoResources) || !errors.Is(res.Err, syscall.ENOENT) {
		t.Fatalf("err %v, want a permanent ENOENT", res.Err)
	}
	jid := JobID(EventOnReceive, testMailbox, st.ID, "h1", 0)
	waitFor(t, func() bool { return e.job(jid).Done })
	if js := e.job(jid); js.Outcome != OutcomeRan || js.ExitCode != -1 {
		t.Errorf("job %+v, want ran with exit -1", js)
	}
	e.stop()
	select {
	case r := <-rec.results:
		t.Errorf("a permanent failure was retried: %+v", r)
	default:
	}
}

// TestRunnerClassifiesStartErrors: EMFILE, ENFILE, EAGAIN and ENOMEM from
// pipe creation or fork mark the result ErrNoResources; ENOENT and
// ENOEXEC do not.
func TestRunnerClassifiesStartErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err       error
		transient bool
	}{
		{&os.SyscallError{Syscall: "pipe2", Err: syscall.EMFILE}, true},
		{&os.SyscallError{Syscall: "pipe2", Err: syscall.ENFILE}, true},
		{&os.PathError{Op: "fork/exec", Path: "/bin/x", Err: syscall.EAGAIN}, true},
		{&os.PathError{Op: "fork/exec", Path: "/bin/x", Err: syscall.ENOMEM}, true},
		{&os.PathError{Op: "fork/exec", Path: "/bin/x", Err: syscall.ENOENT}, false},
		{&os.PathError{Op: "fork/exec", Path: "/bin/x", Err: syscall.ENOEXEC}, false},
	} {
		r, _ := testRunner(time.Second)
		r.start = func(*exec.Cmd) error { return tc.err }
		res := r.Execute(context.Background(), baseRun(t, []string{"/bin/true"}))
		if got := errors.Is(res.Err, ErrNoResources); got != tc.transient || res.ExitCode != -1 {
			t.Errorf("%v: transient %v exit %d, want %v -1", tc.err, got, res.ExitCode, tc.transient)
		}
	}
}
