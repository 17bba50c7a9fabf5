package daemon

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/internal/panics"
	"github.com/aimx-dev/aimx/storage"
)

// IndexWarmer builds every mailbox's listing index in the background right
// after start, so the first agent call on a large mailbox does not wait for
// the build (about 3 s for 100,000 messages; bench/README.md). Counting a
// mailbox builds its inbox and sent indexes; nothing else is done.
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
		for _, name := range cfg.MailboxNames() {
			if ctx.Err() != nil {
				return
			}
			_, domain := domains.SplitName(name)
			ref := storage.MailboxRef{Domain: domain, Local: domains.StorageDir(name)}
			if _, err := w.Store.Counts(ctx, ref); err != nil {
				w.Log.Warn().Err(err).Str("mailbox", name).Msg("index warm-up")
				continue
			}
			n++
		}
		w.Log.Debug().Int("mailboxes", n).Int64("duration_ms", time.Since(start).Milliseconds()).Msg("indexes warm")
	}()
	return nil
}

// Stop ends a warm-up still running. It returns once the warm-up has
// given up, or when ctx ends (the daemon's shutdown deadline) if a build
// does not notice its cancellation: nothing of the warm-up needs saving.
func (w *IndexWarmer) Stop(ctx context.Context) error {
	if w.cancel != nil {
		w.cancel()
	}
	done := make(chan struct{})
	go func() { w.done.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stop index warm-up: %w", ctx.Err())
	}
}
