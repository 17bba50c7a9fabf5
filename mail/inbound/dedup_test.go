package inbound

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/mail/message"
	"github.com/aimx-dev/aimx/storage"
)

func deliverTo(t *testing.T, e *testEnv, raw []byte, rcpts ...string) Outcome {
	t.Helper()
	out, err := e.del.Deliver(context.Background(), Envelope{
		RemoteIP: netip.MustParseAddr("192.0.2.1"), Helo: "h.example.org", MailFrom: "a@example.org",
		Recipients: rcpts, ID: "d",
	}, raw)
	if err != nil {
		t.Fatalf("deliver: %v", err)
	}
	return out
}

func TestDedupByMessageID(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	rc := dialRaw(t, e.addr)
	rc.greet()
	msg := simpleMessage("same@example.org", "once", "body\r\n")
	for i := range 2 {
		if code, text := rc.sendRaw("a@example.org", []string{"support@agent.example.com"}, msg); code != 250 {
			t.Fatalf("delivery %d: %d %s", i, code, text)
		}
	}
	if n := len(e.inbox("support@agent.example.com")); n != 1 {
		t.Errorf("stored %d, want 1", n)
	}
	// Same id, other bytes: another message (M4, book/smtp.md).
	other := simpleMessage("same@example.org", "changed subject", "other body\r\n")
	if code, text := rc.sendRaw("a@example.org", []string{"support@agent.example.com"}, other); code != 250 {
		t.Fatalf("changed copy: %d %s", code, text)
	}
	if n := len(e.inbox("support@agent.example.com")); n != 2 {
		t.Errorf("stored %d, want 2", n)
	}
	// Another mailbox is another index: it gets its copy.
	deliverTo(t, e, msg, "info@other.example.com")
	if n := len(e.inbox("info@other.example.com")); n != 1 {
		t.Errorf("other mailbox stored %d, want 1", n)
	}
}

func TestDedupByDigest(t *testing.T) {
	t.Parallel()
	e := newDeliverEnv(t, envOpts{})
	msg := simpleMessage("", "no id", "body\r\n")
	out := deliverTo(t, e, msg, "support@agent.example.com")
	if out.Mailboxes[0].ID == "" {
		t.Fatal("first copy not stored")
	}
	out = deliverTo(t, e, msg, "support@agent.example.com")
	if !out.Mailboxes[0].Duplicate {
		t.Errorf("second copy not a duplicate: %+v", out.Mailboxes[0])
	}
	// A different body is a different message.
	deliverTo(t, e, simpleMessage("", "no id", "another body\r\n"), "support@agent.example.com")
	if n := len(e.inbox("support@agent.example.com")); n != 2 {
		t.Errorf("stored %d, want 2", n)
	}
}

func TestDedupSurvivesRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	withID := simpleMessage("restart@example.org", "restart", "body\r\n")
	noID := simpleMessage("", "restart no id", "digest body\r\n")
	first := newDeliverEnv(t, envOpts{dataDir: dir})
	deliverTo(t, first, withID, "support@agent.example.com", "x@agent.example.com")
	deliverTo(t, first, noID, "support@agent.example.com", "z@agent.example.com")

	// A new Store and Deliverer over the same data dir: the index is
	// rebuilt from the stored files.
	second := newDeliverEnv(t, envOpts{dataDir: dir})
	for _, raw := range [][]byte{withID, noID} {
		out := deliverTo(t, second, raw, "support@agent.example.com", "y@agent.example.com")
		for _, m := range out.Mailboxes {
			if !m.Duplicate {
				t.Errorf("%s after restart: not a duplicate (%+v)", m.Mailbox, m)
			}
		}
	}
	if n := len(second.inbox("support@agent.example.com")); n != 2 {
		t.Errorf("support holds %d, want 2", n)
	}
	if n := len(second.inbox("*@agent.example.com")); n != 2 {
		t.Errorf("catchall holds %d, want 2", n)
	}
}

func TestDedupWindow(t *testing.T) {
	t.Parallel()
	clk := &clock{t: time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)}
	e := newDeliverEnv(t, envOpts{now: clk.Now, mutate: func(c *domains.Config) {
		c.DedupWindow = domains.Duration(time.Hour)
	}})
	msg := simpleMessage("window@example.org", "window", "body\r\n")
	deliverTo(t, e, msg, "support@agent.example.com")
	clk.Add(59 * time.Minute)
	if out := deliverTo(t, e, msg, "support@agent.example.com"); !out.Mailboxes[0].Duplicate {
		t.Error("inside the window: stored again")
	}
	clk.Add(time.Minute) // exactly the window: no longer a duplicate
	if out := deliverTo(t, e, msg, "support@agent.example.com"); out.Mailboxes[0].Duplicate {
		t.Error("at the end of the window: still a duplicate")
	}
	if n := len(e.inbox("support@agent.example.com")); n != 2 {
		t.Errorf("stored %d, want 2", n)
	}
	// Old entries are pruned: the index does not keep every key forever.
	other := simpleMessage("other@example.org", "other", "x\r\n")
	deliverTo(t, e, other, "support@agent.example.com")
	r := ref("support@agent.example.com")
	if n := e.del.dedup.size(r); n != 2 {
		t.Fatalf("index holds %d keys, want 2", n)
	}
	clk.Add(2 * time.Hour)
	deliverTo(t, e, simpleMessage("third@example.org", "third", "x\r\n"), "support@agent.example.com")
	if n := e.del.dedup.size(r); n != 1 {
		t.Errorf("after the window the index holds %d keys, want 1", n)
	}
}

func TestDedupWindowDisabled(t *testing.T) {
	t.Parallel()
	// Config validation requires a positive dedup_window; a zero one
	// handed to Claim switches dedup off rather than matching forever.
	e := newDeliverEnv(t, envOpts{})
	d := NewDedup(e.store, DedupOptions{})
	r := ref("support@agent.example.com")
	for range 2 {
		c, err := d.Claim(context.Background(), r, "k", 0)
		if err != nil || c.Duplicate() {
			t.Fatalf("window 0: dup=%v err=%v", c.Duplicate(), err)
		}
		c.Commit(time.Now(), "")
	}
}

// slowStore holds every Put until released, so concurrent deliveries are
// all in flight at once.
type slowStore struct {
	storage.MessageStore
	entered chan struct{}
	release chan struct{}
}

func (s *slowStore) Put(ctx context.Context, req storage.PutRequest) (*storage.Stored, error) {
	s.entered <- struct{}{}
	<-s.release
	return s.MessageStore.Put(ctx, req)
}

func TestDedupConcurrent(t *testing.T) {
	t.Parallel()
	slow := &slowStore{entered: make(chan struct{}, 16), release: make(chan struct{})}
	e := newDeliverEnv(t, envOpts{wrap: func(s storage.MessageStore) storage.MessageStore {
		slow.MessageStore = s
		return slow
	}})
	msg := simpleMessage("race@example.org", "race", "body\r\n")
	const n = 8
	var wg sync.WaitGroup
	outs := make([]Outcome, n)
	for i := range n {
		wg.Go(func() { outs[i] = deliverTo(t, e, msg, "support@agent.example.com") })
	}
	<-slow.entered // one delivery reached Put; the others wait on its claim
	select {
	case <-slow.entered:
		t.Fatal("two deliveries of the same key reached Put at once")
	default:
	}
	close(slow.release)
	wg.Wait()
	stored, dups := 0, 0
	for _, o := range outs {
		if o.Mailboxes[0].Duplicate {
			dups++
		} else if o.Mailboxes[0].ID != "" {
			stored++
		}
	}
	if stored != 1 || dups != n-1 {
		t.Errorf("stored %d, duplicates %d; want 1 and %d", stored, dups, n-1)
	}
	if got := len(e.inbox("support@agent.example.com")); got != 1 {
		t.Errorf("mailbox holds %d", got)
	}
}

func TestDedupClaimReleaseAndContext(t *testing.T) {
	t.Parallel()
	e := newDeliverEnv(t, envOpts{})
	d := NewDedup(e.store, DedupOptions{})
	r := ref("support@agent.example.com")
	ctx := context.Background()
	c1, err := d.Claim(ctx, r, "k", time.Hour)
	if err != nil || c1.Duplicate() {
		t.Fatalf("first claim: %v %v", c1, err)
	}
	// A second claim waits; with its context ended it gives up.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := d.Claim(cctx, r, "k", time.Hour); err == nil {
		t.Fatal("claim while held returned without error on a cancelled context")
	}
	// Released (the store failed): the key is free, not a duplicate.
	c1.Release()
	c2, err := d.Claim(ctx, r, "k", time.Hour)
	if err != nil || c2.Duplicate() {
		t.Fatalf("after release: %v %v", c2, err)
	}
	c2.Commit(time.Now(), "")
	c2.Release() // no effect after Commit
	c3, err := d.Claim(ctx, r, "k", time.Hour)
	if err != nil || !c3.Duplicate() {
		t.Fatalf("after commit: dup=%v err=%v", c3.Duplicate(), err)
	}
}

func TestDedupKeyMatchesMessageID(t *testing.T) {
	t.Parallel()
	// The index finds stored copies by frontmatter message_id, so the key's
	// id part must strip <> as the frontmatter does.
	raw := simpleMessage("a.b+c@example.org", "k", "x\r\n")
	m, err := message.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if message.DedupMessageID(message.DedupKey(raw)) != m.MessageID || m.DedupKey != message.DedupKey(raw) {
		t.Errorf("message id %q, dedup key %q", m.MessageID, message.DedupKey(raw))
	}
}

// TestDedupForgetsCopiesThatAreGone: a mailbox removed and made again
// under the same name stores a re-sent message instead of absorbing it as
// a duplicate of a copy that no longer exists.
func TestDedupForgetsCopiesThatAreGone(t *testing.T) {
	t.Parallel()
	e := newDeliverEnv(t, envOpts{})
	const name = "support@agent.example.com"
	msg := simpleMessage("again@example.org", "again", "x\r\n")
	deliver := func() {
		t.Helper()
		if _, err := e.del.Deliver(context.Background(), Envelope{Recipients: []string{name}}, msg); err != nil {
			t.Fatal(err)
		}
	}
	deliver()
	deliver() // a true re-delivery: absorbed
	if n := len(e.inbox(name)); n != 1 {
		t.Fatalf("%d copies after a re-delivery, want 1", n)
	}
	if _, err := e.store.RemoveMailbox(context.Background(), ref(name)); err != nil {
		t.Fatal(err)
	}
	deliver()
	if n := len(e.inbox(name)); n != 1 {
		t.Fatalf("%d copies after the mailbox was wiped and the message re-sent, want 1", n)
	}
}
