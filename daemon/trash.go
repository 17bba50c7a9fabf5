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

// DefaultTrashInterval is how often TrashJanitor empties the trash.
const DefaultTrashInterval = time.Hour

// TrashJanitor empties every mailbox's trash of the messages deleted more
// than the retention period ago (book/storage.md, "Trash, archive and
// labels"): once at start and then every Interval. The store remembers
// when each trash next expires, so a pass over mailboxes with nothing due
// reads no file.
type TrashJanitor struct {
	// Registry names the mailboxes (read at every pass).
	Registry *domains.Registry
	// Store holds the mail.
	Store storage.MessageStore
	// Retention is how long a deleted message is kept; zero means
	// storage.DefaultTrashRetention.
	Retention func(*domains.Config) time.Duration
	// Interval between passes; zero means DefaultTrashInterval.
	Interval time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Log receives a line per pass that removed mail and per failure.
	Log zerolog.Logger
	// Panics counts a panic of a pass; nil still logs it.
	Panics *panics.Counter

	cancel context.CancelFunc
	done   sync.WaitGroup
}

// Start begins the passes; it returns at once.
func (j *TrashJanitor) Start(ctx context.Context) error {
	ctx, j.cancel = context.WithCancel(ctx)
	interval := j.Interval
	if interval <= 0 {
		interval = DefaultTrashInterval
	}
	j.done.Add(1)
	go func() {
		defer j.done.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			j.pass(ctx)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return nil
}

// pass purges every mailbox's trash once.
func (j *TrashJanitor) pass(ctx context.Context) {
	defer func() {
		if p := recover(); p != nil {
			j.Panics.Recovered(j.Log, "trash purge", p)
		}
	}()
	cfg := j.Registry.Current()
	if cfg == nil {
		return
	}
	retention := storage.DefaultTrashRetention
	if j.Retention != nil {
		if r := j.Retention(cfg); r > 0 {
			retention = r
		}
	}
	now := time.Now
	if j.Now != nil {
		now = j.Now
	}
	cutoff := now().Add(-retention)
	for _, name := range cfg.MailboxNames() {
		if ctx.Err() != nil {
			return
		}
		n, err := j.Store.PurgeTrash(ctx, domains.MailboxRef(name), cutoff)
		if err != nil && ctx.Err() == nil {
			j.Log.Warn().Err(err).Str("mailbox", name).Msg("trash purge")
		}
		if n > 0 {
			j.Log.Info().Str("mailbox", name).Int("messages", n).Dur("retention", retention).Msg("trash emptied of expired mail")
		}
	}
}

// Stop ends the passes, waiting for one under way until ctx ends.
func (j *TrashJanitor) Stop(ctx context.Context) error {
	if j.cancel != nil {
		j.cancel()
	}
	done := make(chan struct{})
	go func() { j.done.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stop trash purge: %w", ctx.Err())
	}
}
