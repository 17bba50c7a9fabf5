package hooks

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// secretFile is a root-only file outside the data dir, standing in for
// the DKIM private key.
func secretFile(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "dkim.key")
	if err := os.WriteFile(path, []byte("-----BEGIN PRIVATE KEY----- the DKIM key -----END PRIVATE KEY-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// swapForSymlink replaces file with a symlink to target the way an owner
// would: a symlink made beside it and renamed over it.
func swapForSymlink(t *testing.T, file, target string) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(file), ".swap")
	if err := os.Symlink(target, tmp); err != nil {
		t.Error(err)
		return
	}
	if err := os.Rename(tmp, file); err != nil {
		t.Error(err)
	}
}

// TestC1_SymlinkSwapCannotFeedARootFileToAHook: the owner renames a
// symlink to a root-only file over the .md after the scheduler's checks and
// before stdin is opened (the old code read the message, then opened the
// .md by path as root). The job is skipped; the hook never runs and never sees
// the secret.
func TestC1_SymlinkSwapCannotFeedARootFileToAHook(t *testing.T) {
	t.Parallel()
	secret := secretFile(t)
	e := newSchedEnv(t, testConfig(onReceive("h1")), "")
	st := e.put("swapped", time.Now(), "h1")
	mdPath := e.mdPath(st)
	s, err := NewScheduler(e.opts)
	if err != nil {
		t.Fatal(err)
	}
	s.seams.beforeOpen = func(job) { swapForSymlink(t, mdPath, secret) }
	startSched(t, e, s)
	s.Enqueue(received(st))
	jid := JobID(EventOnReceive, testMailbox, st.ID, "h1", 0)
	waitFor(t, func() bool { return e.job(jid).Done })
	if js := e.job(jid); js.Outcome != OutcomeSkipped {
		t.Errorf("job %+v, want skipped", js)
	}
	for _, r := range e.exec.all() {
		if strings.Contains(r.stdin, "PRIVATE KEY") {
			t.Fatalf("the hook's stdin carried the root-only file: %q", r.stdin)
		}
	}
	if n := len(e.exec.all()); n != 0 {
		t.Errorf("%d runs, want none", n)
	}
}

// TestC1_SwapAfterOpenFeedsTheCheckedFile: a swap after the .md was opened
// changes nothing: the real hook reads the file the daemon opened and
// decoded, byte for byte, and never the secret.
func TestC1_SwapAfterOpenFeedsTheCheckedFile(t *testing.T) {
	t.Parallel()
	secret := secretFile(t)
	e := newSchedEnv(t, testConfig(onReceive("h1", helperArgv(t, "stdin")...)), "")
	st := e.put("swapped-late", time.Now(), "h1")
	mdPath := e.mdPath(st)
	want, err := os.ReadFile(mdPath)
	if err != nil {
		t.Fatal(err)
	}
	runner, _ := testRunner(time.Second)
	rec := &recordingExec{r: runner, results: make(chan Result, 4)}
	e.opts.Runner = rec
	e.opts.LookupOwner = func(string) (Owner, error) { return currentOwner(t, "/"), nil }
	s, err := NewScheduler(e.opts)
	if err != nil {
		t.Fatal(err)
	}
	s.seams.beforeExec = func(job) { swapForSymlink(t, mdPath, secret) }
	startSched(t, e, s)
	s.Enqueue(received(st))
	res := rec.next(t)
	if strings.Contains(string(res.Stdout), "PRIVATE KEY") {
		t.Fatalf("the hook read the root-only file: %q", res.Stdout)
	}
	if string(res.Stdout) != string(want) {
		t.Errorf("hook stdin %q, want the .md as opened %q", res.Stdout, want)
	}
	if fi, err := os.Lstat(mdPath); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the swap did not happen (%v); the test proves nothing", err)
	}
}

// TestM1_FIFOInPlaceOfMDDoesNotBlockAWorker: a FIFO put in place of the
// .md (the old os.Open blocked on it for good) is refused at once: the job
// is skipped and the one worker goes on to the next job.
func TestM1_FIFOInPlaceOfMDDoesNotBlockAWorker(t *testing.T) {
	t.Parallel()
	e := newSchedEnv(t, testConfig(onReceive("h1")), "")
	fifoMsg := e.put("fifo", time.Now(), "h1")
	fifoPath := e.mdPath(fifoMsg)
	next := e.put("next", time.Now(), "h1")
	s, err := NewScheduler(e.opts)
	if err != nil {
		t.Fatal(err)
	}
	s.seams.beforeOpen = func(j job) {
		if j.msgID != fifoMsg.ID {
			return
		}
		if err := os.Remove(fifoPath); err != nil {
			t.Error(err)
		}
		if err := syscall.Mkfifo(fifoPath, 0o600); err != nil {
			t.Error(err)
		}
	}
	startSched(t, e, s)
	s.Enqueue(received(fifoMsg))
	s.Enqueue(received(next))
	// One worker: the next job's run proves the FIFO job let go of it.
	if r := e.exec.next(t); r.Env.ID != next.ID {
		t.Fatalf("ran %s, want only %s", r.Env.ID, next.ID)
	}
	js := e.job(JobID(EventOnReceive, testMailbox, fifoMsg.ID, "h1", 0))
	if !js.Done || js.Outcome != OutcomeSkipped {
		t.Errorf("FIFO job %+v, want skipped", js)
	}
	if fi, err := os.Lstat(fifoPath); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Fatalf("no FIFO in place (%v); the test proves nothing", err)
	}
}

// startSched starts a scheduler built by the test (to set seams) and
// stops it at cleanup.
func startSched(t *testing.T, e *schedEnv, s *Scheduler) {
	t.Helper()
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.s = s
	t.Cleanup(func() { _ = s.Stop(context.Background()) })
}

// recordingExec runs a real Runner and hands each Result to the test.
type recordingExec struct {
	r       *Runner
	results chan Result
}

func (x *recordingExec) Execute(ctx context.Context, run Run) Result {
	res := x.r.Execute(ctx, run)
	x.results <- res
	return res
}

func (x *recordingExec) next(t *testing.T) Result {
	t.Helper()
	select {
	case r := <-x.results:
		return r
	case <-time.After(20 * time.Second): // backstop only
		t.Fatal("no hook run ended")
		return Result{}
	}
}
