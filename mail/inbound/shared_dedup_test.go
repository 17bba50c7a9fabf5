package inbound

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/storage"
)

// sharedStore stands for a store shared by several nodes: it records the
// dedup key and window of each Put and refuses the ones whose key another
// node already stored (keys in taken).
type sharedStore struct {
	storage.MessageStore
	mu    sync.Mutex
	taken map[string]bool
	reqs  []storage.PutRequest
}

func (s *sharedStore) Put(ctx context.Context, req storage.PutRequest) (*storage.Stored, error) {
	s.mu.Lock()
	s.reqs = append(s.reqs, req)
	dup := s.taken[req.DedupKey]
	s.mu.Unlock()
	if dup {
		return nil, fmt.Errorf("store message: %w", storage.ErrDuplicate)
	}
	return s.MessageStore.Put(ctx, req)
}

// TestSharedStoreDuplicate: intake passes the dedup key and window to the
// store, and a Put refused with ErrDuplicate (another node stored the
// message) is a duplicate as the in-process index's: 250, nothing stored,
// no hook (book/scale-out.md).
func TestSharedStoreDuplicate(t *testing.T) {
	t.Parallel()
	shared := &sharedStore{taken: map[string]bool{}}
	var mu sync.Mutex
	fired := 0
	e := newEnv(t, envOpts{
		wrap: func(s storage.MessageStore) storage.MessageStore { shared.MessageStore = s; return shared },
		deliver: func(c *Config) {
			c.OnStored = func(StoredMessage) { mu.Lock(); fired++; mu.Unlock() }
		},
	})
	rc := dialRaw(t, e.addr)
	rc.greet()
	first := simpleMessage("first@example.org", "first", "body\r\n")
	if code, text := rc.sendRaw("a@example.org", []string{"support@agent.example.com"}, first); code != 250 {
		t.Fatalf("first: %d %s", code, text)
	}
	shared.mu.Lock()
	if len(shared.reqs) != 1 || shared.reqs[0].DedupKey == "" || shared.reqs[0].DedupWindow != domains.DefaultDedupWindow {
		t.Fatalf("Put got key %q window %v, want a key and %v", shared.reqs[0].DedupKey, shared.reqs[0].DedupWindow, domains.DefaultDedupWindow)
	}
	shared.reqs = nil
	shared.mu.Unlock()

	// Another node stored this one: the shared store refuses it.
	other := simpleMessage("other@example.org", "stored elsewhere", "body\r\n")
	out := deliverTo(t, e, other, "support@agent.example.com") // learns the key, stores
	shared.mu.Lock()
	shared.taken[shared.reqs[0].DedupKey] = true
	shared.mu.Unlock()
	if _, err := e.store.Delete(context.Background(), ref("support@agent.example.com"), storage.Inbox, out.Mailboxes[0].ID); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	before := fired
	mu.Unlock()
	// A fresh env has no in-process claim: only the shared store can tell.
	e2 := newEnv(t, envOpts{
		wrap: func(s storage.MessageStore) storage.MessageStore { shared.MessageStore = s; return shared },
		deliver: func(c *Config) {
			c.OnStored = func(StoredMessage) { mu.Lock(); fired++; mu.Unlock() }
		},
	})
	rc2 := dialRaw(t, e2.addr)
	rc2.greet()
	if code, text := rc2.sendRaw("a@example.org", []string{"support@agent.example.com"}, other); code != 250 {
		t.Fatalf("re-delivery another node stored: %d %s", code, text)
	}
	out = deliverTo(t, e2, other, "support@agent.example.com")
	if m := out.Mailboxes[0]; !m.Duplicate || m.Err != nil || m.ID != "" {
		t.Fatalf("outcome %+v, want a duplicate", m)
	}
	if n := len(e2.inbox("support@agent.example.com")); n != 0 {
		t.Fatalf("stored %d copies, want 0", n)
	}
	mu.Lock()
	defer mu.Unlock()
	if fired != before {
		t.Fatalf("OnStored fired %d times for a duplicate", fired-before)
	}
}
