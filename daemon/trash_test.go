package daemon

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/storage"
)

// purgingStore records the purges asked of it.
type purgingStore struct {
	storage.MessageStore
	mu      sync.Mutex
	purged  map[storage.MailboxRef]time.Time
	entered chan struct{}
}

func (p *purgingStore) PurgeTrash(_ context.Context, ref storage.MailboxRef, before time.Time) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.purged == nil {
		p.purged = map[storage.MailboxRef]time.Time{}
		close(p.entered)
	}
	p.purged[ref] = before
	return 1, nil
}

// A pass purges every mailbox with the cutoff now minus the retention,
// at start; Stop ends the loop.
func TestTrashJanitorPurgesEveryMailbox(t *testing.T) {
	t.Parallel()
	cfg := domains.Default("a.test")
	for _, n := range []string{"x@a.test", "*@a.test"} {
		cfg.Mailboxes[n] = domains.Mailbox{Name: n, Owner: "root"}
	}
	now := time.Date(2026, 10, 7, 12, 0, 0, 0, time.UTC)
	st := &purgingStore{entered: make(chan struct{})}
	j := &TrashJanitor{Registry: domains.NewRegistry(cfg), Store: st, Log: zerolog.Nop(), Interval: time.Hour,
		Now:       func() time.Time { return now },
		Retention: func(*domains.Config) time.Duration { return 48 * time.Hour }}
	if err := j.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	<-st.entered
	if err := j.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	want := now.Add(-48 * time.Hour)
	for _, ref := range []storage.MailboxRef{{Domain: "a.test", Local: "x"}, {Domain: "a.test", Local: "catchall"}} {
		if got := st.purged[ref]; !got.Equal(want) {
			t.Errorf("%v purged before %v, want %v", ref, got, want)
		}
	}
}

// With a real store, mail deleted longer ago than the retention goes and
// the rest stays.
func TestTrashJanitorWithStore(t *testing.T) {
	t.Parallel()
	clock := time.Date(2026, 10, 7, 12, 0, 0, 0, time.UTC)
	st, err := storage.Open(t.TempDir(), storage.Options{Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	ref := storage.MailboxRef{Domain: "a.test", Local: "x"}
	ctx := context.Background()
	res, err := st.Put(ctx, storage.PutRequest{Mailbox: ref, Folder: storage.Inbox, Frontmatter: storage.Frontmatter{Subject: "old"}, Body: "b"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Move(ctx, ref, storage.Inbox, storage.Trash, res.ID); err != nil {
		t.Fatal(err)
	}
	cfg := domains.Default("a.test")
	cfg.Mailboxes["x@a.test"] = domains.Mailbox{Name: "x@a.test", Owner: "root"}
	j := &TrashJanitor{Registry: domains.NewRegistry(cfg), Store: st, Log: zerolog.Nop(),
		Now: func() time.Time { return clock.Add(storage.DefaultTrashRetention - time.Minute) }}
	j.pass(ctx)
	if l, _ := st.List(ctx, storage.ListQuery{Mailbox: ref, Folder: storage.Trash}); l.Total != 1 {
		t.Fatalf("purged before the retention: %d left", l.Total)
	}
	j.Now = func() time.Time { return clock.Add(storage.DefaultTrashRetention + time.Minute) }
	j.pass(ctx)
	if l, _ := st.List(ctx, storage.ListQuery{Mailbox: ref, Folder: storage.Trash}); l.Total != 0 {
		t.Fatalf("kept after the retention: %d left", l.Total)
	}
}
