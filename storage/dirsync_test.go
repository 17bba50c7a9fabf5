package storage

import (
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"
)

// waitQueued waits, by order rather than by time, until n callers are
// queued behind the running fsync of dir; the deadline is only a loose
// backstop so a broken DirSyncer fails instead of hanging.
func waitQueued(t *testing.T, s *DirSyncer, dir string, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for s.waiting(dir) < n {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d callers queued for the next fsync", s.waiting(dir), n)
		}
		runtime.Gosched()
	}
}

// TestDirSyncerOrdering: callers that arrive while an fsync runs are not
// covered by it; they share the next one, and each gets its batch's error.
func TestDirSyncerOrdering(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var calls int
	started := make(chan struct{})
	release := make(chan struct{})
	boom := errors.New("boom")
	s := &DirSyncer{SyncFunc: func(string) error {
		mu.Lock()
		calls++
		c := calls
		mu.Unlock()
		if c == 1 {
			close(started)
			<-release
			return nil
		}
		return boom
	}}
	first := make(chan error, 1)
	go func() { first <- s.Sync("d") }()
	<-started
	const late = 5
	lateErrs := make(chan error, late)
	for range late {
		go func() { lateErrs <- s.Sync("d") }()
	}
	waitQueued(t, s, "d", late)
	close(release)
	if err := <-first; err != nil {
		t.Errorf("first: %v", err)
	}
	for range late {
		if err := <-lateErrs; !errors.Is(err, boom) {
			t.Errorf("late caller got %v, want the second fsync's error", err)
		}
	}
	if calls != 2 {
		t.Errorf("fsyncs = %d, want 2", calls)
	}
	// Idle again: the next caller runs its own fsync at once.
	if err := s.Sync("d"); !errors.Is(err, boom) || calls != 3 {
		t.Errorf("idle sync: %v, calls %d", err, calls)
	}
	if len(s.dirs) != 0 {
		t.Errorf("state kept for idle dirs: %d", len(s.dirs))
	}
}

func TestDirSyncerDefault(t *testing.T) {
	t.Parallel()
	var s DirSyncer
	if err := s.Sync(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	if err := s.Sync("/nonexistent/dir"); err == nil {
		t.Error("sync of a missing dir succeeded")
	}
}
