package daemon

import (
	"context"
	"sync"
	"testing"

	"github.com/rs/zerolog"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/storage"
)

// countingStore records which mailboxes were counted.
type countingStore struct {
	storage.MessageStore
	mu      sync.Mutex
	counted []storage.MailboxRef
}

func (c *countingStore) Counts(_ context.Context, ref storage.MailboxRef) (storage.Counts, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.counted = append(c.counted, ref)
	return storage.Counts{}, nil
}

func TestIndexWarmerCountsEveryMailbox(t *testing.T) {
	t.Parallel()
	cfg := domains.Default("a.test")
	for _, n := range []string{"x@a.test", "*@a.test"} {
		cfg.Mailboxes[n] = domains.Mailbox{Name: n, Owner: "root"}
	}
	st := &countingStore{}
	w := &IndexWarmer{Registry: domains.NewRegistry(cfg), Store: st, Log: zerolog.Nop()}
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	w.done.Wait() // the warm-up runs to its end
	want := map[storage.MailboxRef]bool{{Domain: "a.test", Local: "x"}: true, {Domain: "a.test", Local: "catchall"}: true}
	if len(st.counted) != 2 || !want[st.counted[0]] || !want[st.counted[1]] {
		t.Fatalf("counted %v, want both mailboxes", st.counted)
	}
	if err := w.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// blockingStore's Counts waits for its context, like a long index build.
type blockingStore struct {
	storage.MessageStore
	entered chan struct{}
}

func (b *blockingStore) Counts(ctx context.Context, _ storage.MailboxRef) (storage.Counts, error) {
	close(b.entered)
	<-ctx.Done()
	return storage.Counts{}, ctx.Err()
}

func TestIndexWarmerStopsOnShutdown(t *testing.T) {
	t.Parallel()
	cfg := domains.Default("a.test")
	cfg.Mailboxes["x@a.test"] = domains.Mailbox{Name: "x@a.test", Owner: "root"}
	st := &blockingStore{entered: make(chan struct{})}
	w := &IndexWarmer{Registry: domains.NewRegistry(cfg), Store: st, Log: zerolog.Nop()}
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	<-st.entered
	if err := w.Stop(context.Background()); err != nil { // returns only once the build gave up
		t.Fatal(err)
	}
}

// cachingStore is a store with index cache files, like storage.Store.
type cachingStore struct {
	countingStore
	warmed  []storage.MailboxRef
	flushed bool
}

func (c *cachingStore) WarmIndex(_ context.Context, ref storage.MailboxRef) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.warmed = append(c.warmed, ref)
	return nil
}

func (c *cachingStore) FlushIndexes(context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.flushed = true
	return nil
}

// A store that keeps index cache files gets every mailbox checked in full
// (not merely counted) and its cache written when the daemon stops.
func TestIndexWarmerChecksAndFlushes(t *testing.T) {
	t.Parallel()
	cfg := domains.Default("a.test")
	for _, n := range []string{"x@a.test", "y@a.test"} {
		cfg.Mailboxes[n] = domains.Mailbox{Name: n, Owner: "root"}
	}
	st := &cachingStore{}
	w := &IndexWarmer{Registry: domains.NewRegistry(cfg), Store: st, Log: zerolog.Nop()}
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	w.done.Wait()
	if st.flushed {
		t.Fatal("flushed before Stop")
	}
	if err := w.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(st.warmed) != 2 || len(st.counted) != 0 || !st.flushed {
		t.Fatalf("warmed %v, counted %v, flushed %v", st.warmed, st.counted, st.flushed)
	}
}
