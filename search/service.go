package search

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/internal/panics"
	"github.com/aimx-dev/aimx/storage"
)

// Service defaults (book/search.md).
const (
	// DefaultSweepEvery is how often every folder's count in the store is
	// compared with the index's.
	DefaultSweepEvery = 10 * time.Second
	// maxPending bounds the changes queued for the worker; past it they
	// are dropped and the next sweep reconciles every folder.
	maxPending = 100_000
	// batchSize is the most documents written in one transaction.
	batchSize = 500
)

// Service keeps an Index current with the store and answers searches. It
// is a daemon component (book/architecture.md): Start opens or rebuilds
// the index and starts its worker, Stop ends it. Writers tell it about
// stored and removed messages with Stored and Removed, which never block.
type Service struct {
	// DataDir is the data dir: the index lives in <DataDir>/.index/search,
	// and the file store's folders are listed from their directories.
	// Empty (a store that keeps no files here) needs Open.
	DataDir string
	// Store holds the mail; messages are read through it.
	Store storage.MessageStore
	// Registry names the mailboxes to index: the folders of every
	// configured mailbox.
	Registry *domains.Registry
	// Open opens the engine; nil opens SQLite FTS5 under DataDir. Tests
	// and other backends set it. reset asks for an empty index.
	Open func(ctx context.Context, reset bool) (Index, error)
	// SweepEvery is the sweep period; zero means DefaultSweepEvery.
	SweepEvery time.Duration
	// Log receives a line per rebuild and reconciliation and per failure.
	Log zerolog.Logger
	// Panics counts a panic of the worker; nil still logs it.
	Panics *panics.Counter

	idx     atomic.Pointer[indexBox] // nil until opened
	opened  chan struct{}            // closed once the open was tried
	ready   atomic.Bool              // the first full reconciliation is done
	mu      sync.Mutex
	pending []change
	resync  bool // changes were dropped: reconcile every folder
	wake    chan struct{}
	cancel  context.CancelFunc
	done    chan struct{}
	memo    map[Box]memo // folders whose store and index counts differ for good
}

// indexBox holds the Index for the atomic pointer.
type indexBox struct{ Index }

// change is one queued write: a message stored, or a folder removed.
type change struct {
	key       Key
	removeBox bool
}

// memo remembers the counts a reconciliation of a folder ended with, so a
// folder whose counts differ for a reason reconciling cannot fix (a file
// the store refuses to read) is not listed again on every sweep.
type memo struct{ store, index int }

// Ready reports whether the index has been reconciled with the store
// since the start; until then searches answer from what it has.
func (s *Service) Ready() bool { return s.ready.Load() }

// Stored queues a newly stored message for indexing; it never blocks.
func (s *Service) Stored(b Box, id string) { s.queue(change{key: Key{Box: b, ID: id}}) }

// Removed queues the removal of a folder's documents (a mailbox deleted).
func (s *Service) Removed(b Box) { s.queue(change{key: Key{Box: b}, removeBox: true}) }

func (s *Service) queue(c change) {
	if c.key.Folder == "" {
		c.key.Folder = storage.Inbox
	}
	s.mu.Lock()
	if len(s.pending) < maxPending {
		s.pending = append(s.pending, c)
	} else {
		s.resync = true
	}
	wake := s.wake
	s.mu.Unlock()
	if wake != nil {
		select {
		case wake <- struct{}{}:
		default:
		}
	}
}

// Start opens the index and starts the worker; it returns at once. A
// failure to open is logged and leaves search unavailable; the daemon
// runs on.
func (s *Service) Start(ctx context.Context) error {
	ctx, s.cancel = context.WithCancel(ctx)
	s.mu.Lock()
	s.wake = make(chan struct{}, 1)
	s.mu.Unlock()
	s.done = make(chan struct{})
	s.opened = make(chan struct{})
	go func() {
		defer close(s.done)
		defer func() {
			if p := recover(); p != nil {
				s.Panics.Recovered(s.Log, "search index", p)
			}
		}()
		s.run(ctx)
	}()
	return nil
}

// Stop ends the worker (a batch under way is cut short; the next start
// reconciles it) and closes the index.
func (s *Service) Stop(ctx context.Context) error {
	if s.cancel == nil {
		return nil
	}
	s.cancel()
	select {
	case <-s.done:
	case <-ctx.Done():
		return fmt.Errorf("search index stop: %w", ctx.Err())
	}
	if ib := s.idx.Swap(nil); ib != nil {
		if err := ib.Close(); err != nil {
			return fmt.Errorf("search index close: %w", err)
		}
	}
	return nil
}

// open opens the index, or a new empty one when it is missing, of
// another version or unreadable (book/search.md, "Rebuilds").
func (s *Service) open(ctx context.Context) (Index, error) {
	openFn := s.Open
	if openFn == nil {
		openFn = func(ctx context.Context, reset bool) (Index, error) {
			path, err := openIndexDir(s.DataDir, reset)
			if err != nil {
				return nil, err
			}
			return OpenFTS(ctx, path)
		}
	}
	idx, err := openFn(ctx, false)
	if err == nil {
		return idx, nil
	}
	s.Log.Warn().Err(err).Msg("search index unusable; building a new one")
	return openFn(ctx, true)
}

// run is the worker: open, reconcile every folder, then index what is
// queued and sweep every SweepEvery until ctx ends.
func (s *Service) run(ctx context.Context) {
	idx, err := s.open(ctx)
	if err != nil {
		close(s.opened)
		s.Log.Error().Err(err).Msg("search index cannot be opened; email_search is unavailable")
		return
	}
	s.idx.Store(&indexBox{idx})
	close(s.opened)
	start := time.Now()
	added, removed := s.reconcileAll(ctx, true)
	if ctx.Err() != nil {
		return
	}
	// After a bulk load, merge the segments (smaller and faster) and
	// truncate the write-ahead log.
	if added > 1000 {
		if err := idx.Optimize(ctx); err != nil {
			s.Log.Warn().Err(err).Msg("search index not optimized")
		}
	}
	s.ready.Store(true)
	s.Log.Info().Int("indexed", added).Int("removed", removed).
		Int64("duration_ms", time.Since(start).Milliseconds()).Msg("search index reconciled")
	every := s.SweepEvery
	if every <= 0 {
		every = DefaultSweepEvery
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		s.drain(ctx, idx)
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		case <-tick.C:
			s.mu.Lock()
			full := s.resync
			s.resync = false
			s.mu.Unlock()
			s.reconcileAll(ctx, full)
		}
	}
}

// drain indexes the queued changes in batches.
func (s *Service) drain(ctx context.Context, idx Index) {
	for ctx.Err() == nil {
		s.mu.Lock()
		n := min(len(s.pending), batchSize)
		batch := append([]change(nil), s.pending[:n]...)
		s.pending = s.pending[n:]
		if len(s.pending) == 0 {
			s.pending = nil
		}
		s.mu.Unlock()
		if n == 0 {
			return
		}
		var keys []Key
		for _, c := range batch {
			if !c.removeBox {
				keys = append(keys, c.key)
				continue
			}
			if err := idx.DeleteBox(ctx, c.key.Box); err != nil {
				s.Log.Warn().Err(err).Str("mailbox", c.key.Mailbox).Msg("search index: folder not removed")
			}
		}
		if err := s.addKeys(ctx, idx, keys); err != nil && ctx.Err() == nil {
			s.Log.Warn().Err(err).Msg("search index: messages not indexed; the next sweep retries")
			s.mu.Lock()
			s.resync = true
			s.mu.Unlock()
		}
	}
}

// addKeys reads the messages and indexes them. A message that is gone is
// removed from the index (a search found it missing); one the store
// refuses to read is skipped.
func (s *Service) addKeys(ctx context.Context, idx Index, keys []Key) error {
	docs := make([]Doc, 0, len(keys))
	var gone []Key
	for _, k := range keys {
		d, err := s.doc(ctx, k)
		switch {
		case err == nil:
			docs = append(docs, d)
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, storage.ErrNotFound), errors.Is(err, storage.ErrInvalidID):
			gone = append(gone, k)
		default:
			s.Log.Debug().Err(err).Str("mailbox", k.Mailbox).Str("id", k.ID).Msg("search index: message skipped")
		}
	}
	if err := idx.Delete(ctx, gone); err != nil {
		return err
	}
	return idx.Add(ctx, docs)
}

// doc reads one message into a Doc.
func (s *Service) doc(ctx context.Context, k Key) (Doc, error) {
	ref := domains.MailboxRef(k.Mailbox)
	m, err := load(ctx, s.Store, k, ref)
	if err != nil {
		return Doc{}, err
	}
	to := append(append([]string(nil), m.fm.To...), m.fm.Cc...)
	at := m.fm.ReceivedAt
	if at.IsZero() {
		at = stemTime(k.ID)
	}
	return Doc{Key: k, At: at, Subject: m.fm.Subject, From: m.fm.From, To: joinAddrs(to), Body: m.body}, nil
}

// stemTime reads the UTC receipt time a stem starts with
// (book/storage.md, "Message names"); zero when it has none.
func stemTime(id string) time.Time {
	if len(id) < 17 {
		return time.Time{}
	}
	t, err := time.Parse("2006-01-02-150405", id[:17])
	if err != nil {
		return time.Time{}
	}
	return t
}

func joinAddrs(a []string) string {
	out := ""
	for i, s := range a {
		if i > 0 {
			out += ", "
		}
		out += s
	}
	return out
}
