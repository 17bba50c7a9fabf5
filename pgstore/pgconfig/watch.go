package pgconfig

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/domains/dkimkey"
	"github.com/aimx-dev/aimx/pgstore"
)

// DefaultCheckInterval is how often a Watcher checks for a new version
// without being told: the backstop of a lost notification.
const DefaultCheckInterval = 30 * time.Second

// Watcher makes every config version live on this node: it LISTENs on
// Channel and, on each notification, on the catch-up after a reconnect and
// every Interval, syncs the DKIM keys and then, when the database holds a
// newer version than the Changer published, reloads it through the
// Changer (so Prepare and OnPublish run as for a local change). Keys go
// first, so a domain is signable before the config naming it is live. It
// is a daemon component (Start, Stop).
type Watcher struct {
	// DB is the shared database.
	DB *pgstore.DB
	// Store is the shared config; it must be Changer's Backend.
	Store *Store
	// Changer publishes: its Reload loads Store's current version.
	Changer *domains.Changer
	// Keys is this node's DKIM key store (nil: no key files written).
	Keys *dkimkey.Store
	// Ring is the running signer's keys (nil: none published).
	Ring *dkimkey.Keyring
	// Interval is the backstop check period; 0 means DefaultCheckInterval.
	Interval time.Duration
	// Log gets failed checks and key conflicts.
	Log zerolog.Logger

	mu        sync.Mutex // one check at a time; guards conflicts
	conflicts []string   // key conflicts already logged
	cancel    context.CancelFunc
	done      chan struct{}
}

// Start begins watching; it returns at once. The first check runs as soon
// as the LISTEN is in place, so no version committed before it is missed.
func (w *Watcher) Start(ctx context.Context) error {
	if w.Changer == nil || w.Store == nil || w.Changer.Backend != domains.ConfigStore(w.Store) {
		return errors.New("config watcher: the Changer's Backend must be the watched Store")
	}
	ctx, w.cancel = context.WithCancel(ctx)
	w.done = make(chan struct{})
	wake := make(chan struct{}, 1)
	connected := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		w.DB.Listen(ctx, []string{Channel}, connected, func(pgstore.Notification) {
			select {
			case wake <- struct{}{}:
			default: // a check is already due; it reads the newest version
			}
		})
	}()
	go func() {
		defer wg.Done()
		w.loop(ctx, wake, connected)
	}()
	go func() {
		wg.Wait()
		close(w.done)
	}()
	return nil
}

// Stop ends the watcher, waiting for a check in progress within ctx.
func (w *Watcher) Stop(ctx context.Context) error {
	if w.cancel == nil {
		return nil
	}
	w.cancel()
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (w *Watcher) loop(ctx context.Context, wake <-chan struct{}, connected <-chan struct{}) {
	interval := w.Interval
	if interval <= 0 {
		interval = DefaultCheckInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-connected:
			connected = nil
		case <-wake:
		case <-t.C:
		}
		if err := w.Check(ctx); err != nil && ctx.Err() == nil {
			w.Log.Error().Err(err).Msg("shared config: check failed; the running config stays until the next one")
		}
	}
}

// Check syncs the DKIM keys and publishes the database's config when it
// is newer than the one published.
func (w *Watcher) Check(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	var errs []error
	if w.Keys != nil || w.Ring != nil {
		res, err := SyncKeys(ctx, w.DB, w.Keys, w.Ring)
		if err != nil {
			errs = append(errs, err)
		}
		w.report(res)
	}
	latest, err := w.Store.Latest(ctx)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	if latest > w.Store.Version() {
		if _, err := w.Changer.Reload(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// report logs what a key sync changed, and each conflict once.
func (w *Watcher) report(res SyncResult) {
	for _, d := range res.Written {
		w.Log.Info().Str("domain", d).Msg("DKIM key written from the shared database")
	}
	for _, d := range res.Conflicts {
		if !slices.Contains(w.conflicts, d) {
			w.Log.Warn().Str("domain", d).Msg("DKIM key file differs from the shared database's key, which is the one signing; replace or remove the file")
		}
	}
	w.conflicts = res.Conflicts
}
