package hooks

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestL4_BackgroundChildHoldingStdout pins what book/hooks.md says of a
// hook that exits 0 while a process it started in the background (in its
// own process group) still holds stdout: nothing is signalled; the runner
// waits the grace period for the pipe, then closes it and reports the run
// as ended with exit 0, an io_error and a warn line; the background
// process lives on, and its next write to stdout fails (EPIPE, SIGPIPE
// being ignored here).
func TestL4_BackgroundChildHoldingStdout(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	goFIFO, resultFIFO := filepath.Join(dir, "go"), filepath.Join(dir, "result")
	for _, p := range []string{goFIFO, resultFIFO} {
		if err := syscall.Mkfifo(p, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	const grace = 300 * time.Millisecond
	r, logs := testRunner(grace)
	res := r.Execute(context.Background(), baseRun(t, helperArgv(t, "bgwriter", goFIFO, resultFIFO)))
	pid, err := strconv.Atoi(strings.TrimSpace(string(res.Stdout)))
	if err != nil {
		t.Fatalf("background pid %q: %v (%+v)", res.Stdout, err, res)
	}
	killPid(t, pid)
	if res.Err != nil || res.ExitCode != 0 || res.Signal != 0 || res.TimedOut || res.Canceled || res.Killed {
		t.Fatalf("result %+v, want exit 0 with nothing signalled", res)
	}
	if !errors.Is(res.IOErr, exec.ErrWaitDelay) {
		t.Errorf("IOErr = %v, want exec.ErrWaitDelay", res.IOErr)
	}
	if res.Duration < grace {
		t.Errorf("pipes closed after %v, before the %v grace", res.Duration, grace)
	}
	// By order: Execute has returned and the process it left is alive, in
	// the hook's group, unsignalled.
	if !pidAlive(pid) {
		t.Fatalf("background process %d is gone", pid)
	}
	// It stayed in the hook's group: not a leader, not in ours.
	if pgid, err := syscall.Getpgid(pid); err != nil || pgid == pid || pgid == syscall.Getpgrp() {
		t.Errorf("background process group %d (%v), want the hook's", pgid, err)
	}
	line := logLine(t, logs)
	if line["level"] != "warn" || line["exit_code"] != float64(0) || line["io_error"] == nil {
		t.Errorf("log line %v, want a warn with exit_code 0 and io_error", line)
	}

	// Now let it write: the pipe is closed on our side.
	result := make(chan string, 1)
	go func() {
		b, _ := os.ReadFile(resultFIFO)
		result <- string(b)
	}()
	if err := os.WriteFile(goFIFO, []byte("go"), 0o600); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-result:
		if !strings.Contains(got, "broken pipe") {
			t.Errorf("late write: %q, want broken pipe", got)
		}
	case <-time.After(20 * time.Second): // backstop only
		t.Fatal("the background process never reported its write")
	}
}
