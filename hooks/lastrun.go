package hooks

import (
	"errors"
	"sync"
	"time"
)

// LastRun is how a hook's latest run ended, as hook_list shows it
// (book/mcp.md, book/hooks.md). It is kept in memory from the runner's
// results since the daemon started: the durable record of every run is
// the "hook run" log line.
type LastRun struct {
	// At is when the run started (when it was tried, for one that did
	// not start).
	At time.Time
	// Started is false when the command could not be started (a missing
	// or not executable cmd[0], say); ExitCode is then -1.
	Started bool
	// ExitCode is the command's exit status, 128+n when signal n ended
	// it, as the runner reports it.
	ExitCode int
	// Duration is how long it ran.
	Duration time.Duration
	// TimedOut reports that timeout_secs expired and it was stopped.
	TimedOut bool
}

// lastRuns is the table behind Scheduler.LastRun: one entry per hook name
// that ran since the start, replaced by each run. Deleted hooks keep their
// entry until maxLastRuns is reached, when the table starts over: the
// names are config-defined, so that never happens in practice.
type lastRuns struct {
	mu sync.Mutex
	m  map[string]LastRun
}

// maxLastRuns bounds the table (names of hooks, not runs).
const maxLastRuns = 1 << 14

// record keeps how a run of hook ended. A run stopped by shutdown or that
// could not start for lack of resources is not an ending: it is due again,
// and the previous entry stays.
func (l *lastRuns) record(hook string, res Result, now time.Time) {
	if res.Canceled || errors.Is(res.Err, ErrNoResources) {
		return
	}
	lr := LastRun{At: res.StartedAt, Started: res.Err == nil, ExitCode: res.ExitCode, Duration: res.Duration, TimedOut: res.TimedOut}
	if !lr.Started {
		lr.At, lr.ExitCode, lr.Duration = now, -1, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil || len(l.m) >= maxLastRuns {
		l.m = map[string]LastRun{}
	}
	l.m[hook] = lr
}

// get returns the entry of one hook.
func (l *lastRuns) get(hook string) (LastRun, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	lr, ok := l.m[hook]
	return lr, ok
}

// LastRun returns how the hook with this effective name last ran since the
// daemon started; ok is false when it has not run since. It is a map
// lookup, cheap enough for every hook_list row.
func (s *Scheduler) LastRun(hook string) (lr LastRun, ok bool) {
	return s.last.get(hook)
}
