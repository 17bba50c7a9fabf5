package daemon

import (
	"context"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/storage"
)

// IndexWarmer builds every mailbox's listing index in the background right
// after start, so the first agent call on a large mailbox does not wait for
// the build (about 3 s for 100,000 messages; bench/README.md). Counting a
// mailbox builds its inbox and sent indexes; nothing else is done.
type IndexWarmer struct {
	Registry *domains.Registry
	Store    storage.MessageStore
	Log      zerolog.Logger

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
			if r := recover(); r != nil {
				w.Log.Error().Interface("panic", r).Msg("index warm-up panicked")
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

// Stop ends a warm-up still running.
func (w *IndexWarmer) Stop(context.Context) error {
	if w.cancel != nil {
		w.cancel()
	}
	w.done.Wait()
	return nil
}
