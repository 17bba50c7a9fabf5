package storage

import (
	"sync"

	"github.com/aimx-dev/aimx/internal/safefs"
)

// DirSyncer batches directory fsyncs (group commit, book/storage.md): writers that
// published entries into the same directory share one fsync instead of
// paying one each. Sync returns only after an fsync of the directory that
// started after the call began, so the caller's entries are covered. The
// first caller for an idle directory runs the fsync; callers that arrive
// while it runs wait and share the next one, which one of them runs.
type DirSyncer struct {
	// SyncFunc fsyncs one directory; nil means SyncDir. Tests inject a
	// counter or a fault here.
	SyncFunc func(dir string) error

	mu   sync.Mutex
	dirs map[string]*dirSyncState
}

type dirSyncState struct {
	running bool
	pending *syncBatch // callers waiting for the next fsync to start
}

type syncBatch struct {
	waiters int
	lead    chan struct{} // handed to one waiter: it runs this batch's fsync
	done    chan struct{} // closed when this batch's fsync has finished
	err     error
}

func newSyncBatch() *syncBatch {
	return &syncBatch{lead: make(chan struct{}, 1), done: make(chan struct{})}
}

// Sync makes every entry published in dir before the call durable.
func (s *DirSyncer) Sync(dir string) error { return s.sync(dir, nil) }

// SyncAt is Sync for a directory held open: the fsync that covers the
// caller runs on some caller's descriptor of the same directory, never on
// a path resolved again.
func (s *DirSyncer) SyncAt(d *safefs.Dir) error { return s.sync(d.Path(), d) }

func (s *DirSyncer) sync(dir string, d *safefs.Dir) error {
	s.mu.Lock()
	if s.dirs == nil {
		s.dirs = map[string]*dirSyncState{}
	}
	st := s.dirs[dir]
	if st == nil {
		st = &dirSyncState{}
		s.dirs[dir] = st
	}
	if !st.running {
		st.running = true
		b := newSyncBatch()
		b.waiters = 1
		s.mu.Unlock()
		return s.run(dir, d, st, b)
	}
	b := st.pending
	if b == nil {
		b = newSyncBatch()
		st.pending = b
	}
	b.waiters++
	s.mu.Unlock()
	select {
	case <-b.done:
		return b.err
	case <-b.lead:
		return s.run(dir, d, st, b)
	}
}

// run performs b's fsync, then hands the directory to the batch that
// gathered meanwhile, or marks it idle.
func (s *DirSyncer) run(dir string, d *safefs.Dir, st *dirSyncState, b *syncBatch) error {
	var err error
	switch {
	case s.SyncFunc != nil:
		err = s.SyncFunc(dir)
	case d != nil:
		err = d.Sync()
	default:
		err = SyncDir(dir)
	}
	s.mu.Lock()
	b.err = err
	close(b.done)
	if next := st.pending; next != nil {
		st.pending = nil
		next.lead <- struct{}{}
	} else {
		st.running = false
		delete(s.dirs, dir)
	}
	s.mu.Unlock()
	return err
}

// waiting reports how many callers are queued for dir's next fsync (tests).
func (s *DirSyncer) waiting(dir string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.dirs[dir]; st != nil && st.pending != nil {
		return st.pending.waiters
	}
	return 0
}
