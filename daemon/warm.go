package daemon

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/internal/panics"
	"github.com/aimx-dev/aimx/internal/progress"
	"github.com/aimx-dev/aimx/storage"
)

// IndexWarmer loads every mailbox's listing index in the background right
// after start (book/storage.md, "Listing and counting"), so the first
// agent call on a large mailbox does not wait for the load, and checks
// every message of an index taken from its cache file against the file,
// so a .md edited while the daemon was down is seen seconds after the
// start (Store.WarmIndex; about 1.5 s for 1,000,000 messages,
// bench/README.md). The store keeps only the counts of the indexes it has
// no memory budget for. When the daemon stops, Stop has the store write
// the cache files of the indexes that changed.
type IndexWarmer struct {
	// Registry names the mailboxes to warm (as configured at Start).
	Registry *domains.Registry
	// Store builds the indexes.
	Store storage.MessageStore
	// Log receives a warning per mailbox that fails and a debug summary.
	Log zerolog.Logger
	// Panics counts a panic of the warm-up; nil still logs it.
	Panics *panics.Counter

	cancel context.CancelFunc
	done   sync.WaitGroup
}

// indexFlusher is a store that keeps index cache files (storage.Store).
type indexFlusher interface {
	FlushIndexes(ctx context.Context) error
}

// indexWarmer is a store that can load an index fully, checking every
// message, even when it can count without (storage.Store).
type indexWarmer interface {
	WarmIndex(ctx context.Context, ref storage.MailboxRef) error
}

// Start begins warming; it returns at once.
func (w *IndexWarmer) Start(ctx context.Context) error {
	ctx, w.cancel = context.WithCancel(ctx)
	cfg := w.Registry.Current()
	w.done.Add(1)
	go func() {
		defer w.done.Done()
		defer func() {
			if p := recover(); p != nil {
				w.Panics.Recovered(w.Log, "index warm-up", p)
			}
		}()
		start := time.Now()
		n := 0
		names := cfg.MailboxNames()
		// A warm-up that takes long logs a line every few seconds (issue 13, item 7).
		tr := progress.New(progress.Options{Label: "index warm-up", Unit: "mailboxes", Total: len(names), Log: &w.Log})
		for _, name := range names {
			if ctx.Err() != nil {
				return
			}
			ref := domains.MailboxRef(name)
			err := w.warm(ctx, ref)
			tr.Add(1)
			if err != nil {
				w.Log.Warn().Err(err).Str("mailbox", name).Msg("index warm-up")
				continue
			}
			n++
		}
		tr.Done("")
		w.Log.Debug().Int("mailboxes", n).Int64("duration_ms", time.Since(start).Milliseconds()).Msg("indexes warm")
	}()
	return nil
}

// warm loads one mailbox's indexes.
func (w *IndexWarmer) warm(ctx context.Context, ref storage.MailboxRef) error {
	if iw, ok := w.Store.(indexWarmer); ok {
		return iw.WarmIndex(ctx, ref)
	}
	_, err := w.Store.Counts(ctx, ref)
	return err
}

// Stop ends a warm-up still running, then has the store write the index
// cache files that changed, so the next start reads few messages. It
// returns when that is done, or when ctx ends (the daemon's shutdown
// deadline): the cache is derived data, and an unsaved one only costs the
// next start some reading.
func (w *IndexWarmer) Stop(ctx context.Context) error {
	if w.cancel != nil {
		w.cancel()
	}
	done := make(chan struct{})
	go func() { w.done.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		return fmt.Errorf("stop index warm-up: %w", ctx.Err())
	}
	if f, ok := w.Store.(indexFlusher); ok {
		if err := f.FlushIndexes(ctx); err != nil {
			return fmt.Errorf("stop index warm-up: %w", err)
		}
	}
	return nil
}
