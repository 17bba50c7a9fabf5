package hooks

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// TestLastRunRecord: a run that ended replaces the entry; one stopped by
// shutdown or short of resources leaves it; one that could not start is
// kept as not started, exit -1.
func TestLastRunRecord(t *testing.T) {
	t.Parallel()
	var l lastRuns
	if _, ok := l.get("h"); ok {
		t.Fatal("empty table has an entry")
	}
	t0 := time.Date(2026, 10, 7, 14, 0, 0, 0, time.UTC)
	l.record("h", Result{StartedAt: t0, ExitCode: 3, Duration: 1500 * time.Millisecond, TimedOut: true}, t0)
	want := LastRun{At: t0, Started: true, ExitCode: 3, Duration: 1500 * time.Millisecond, TimedOut: true}
	if got, _ := l.get("h"); got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	l.record("h", Result{Canceled: true, ExitCode: 143}, t0.Add(time.Hour))
	l.record("h", Result{ExitCode: -1, Err: fmt.Errorf("start: %w", ErrNoResources)}, t0.Add(time.Hour))
	if got, _ := l.get("h"); got != want {
		t.Fatalf("canceled or resource-short run replaced the entry: %+v", got)
	}
	t1 := t0.Add(2 * time.Hour)
	l.record("h", Result{ExitCode: -1, Err: errors.New("fork/exec: no such file")}, t1)
	if got, _ := l.get("h"); got != (LastRun{At: t1, ExitCode: -1}) {
		t.Fatalf("not started: %+v", got)
	}
}

// TestSchedulerLastRun: the scheduler's LastRun reports the real runner's
// exit code and duration of the latest run of each hook.
func TestSchedulerLastRun(t *testing.T) {
	t.Parallel()
	e := newSchedEnv(t, testConfig(onReceive("three", "/bin/sh", "-c", "exit 3")), "")
	e.opts.Runner = NewRunner(zerolog.Nop())
	s := e.start()
	if _, ok := s.LastRun("three"); ok {
		t.Fatal("a hook that never ran has a last run")
	}
	before := time.Now()
	s.Enqueue(received(e.put("hello", time.Now(), "three")))
	deadline := time.Now().Add(10 * time.Second)
	for {
		lr, ok := s.LastRun("three")
		if ok {
			if !lr.Started || lr.ExitCode != 3 || lr.At.Before(before) || lr.Duration <= 0 || lr.TimedOut {
				t.Fatalf("last run %+v", lr)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("no last run after 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
