package mcp

import (
	"context"
	"sync"
	"time"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/internal/mailbus"
	"github.com/aimx-dev/aimx/storage"
)

// fmCache shares the frontmatter of newly stored messages among the waits
// that wake for them (book/mcp.md, "Waiting for mail"): when many agents
// wait on one mailbox with different filters, each new message is read
// once, not once per waiter. Entries live briefly (fmCacheTTL), so a row's
// read state is at most that old; the zero value is ready to use.
type fmCache struct {
	mu   sync.Mutex
	m    map[string]*fmEntry
	ring [fmCacheSize]fmSlot // the entries in insertion order
	next int
}

// fmSlot is one place of the eviction ring.
type fmSlot struct {
	key string
	e   *fmEntry
}

// fmEntry is one read, shared by the waits that want it.
type fmEntry struct {
	done chan struct{} // closed once fm and err are set
	at   time.Time
	fm   *storage.Frontmatter
	err  error
}

const (
	fmCacheSize = 1024
	fmCacheTTL  = 5 * time.Second
)

// get returns the frontmatter stored under key, calling load once for all
// the callers that ask at about the same time. A failed load is not
// shared: each caller then loads for itself.
func (c *fmCache) get(ctx context.Context, key string, load func() (*storage.Frontmatter, error)) (*storage.Frontmatter, error) {
	now := time.Now()
	c.mu.Lock()
	if c.m == nil {
		c.m = map[string]*fmEntry{}
	}
	e := c.m[key]
	if e != nil && now.Sub(e.at) > fmCacheTTL {
		e = nil
	}
	if e == nil {
		e = &fmEntry{done: make(chan struct{}), at: now}
		if old := c.ring[c.next]; old.e != nil && c.m[old.key] == old.e {
			delete(c.m, old.key)
		}
		c.m[key], c.ring[c.next] = e, fmSlot{key, e}
		c.next = (c.next + 1) % fmCacheSize
		c.mu.Unlock()
		e.fm, e.err = load()
		close(e.done)
		return e.fm, e.err
	}
	c.mu.Unlock()
	select {
	case <-e.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if e.err != nil {
		return load()
	}
	return e.fm, nil
}

// newMailFrontmatter is the frontmatter of a message the broadcast
// announced, read once for every wait that asks for it.
func (s *Server) newMailFrontmatter(ctx context.Context, mailbox, id string) (*storage.Frontmatter, error) {
	return s.subs.fm.get(ctx, mailbox+"/"+id, func() (*storage.Frontmatter, error) {
		msg, err := s.deps.Store.Read(ctx, domains.MailboxRef(mailbox), storage.Inbox, id)
		if err != nil {
			return nil, err
		}
		return msg.Frontmatter, nil
	})
}

// prefetchNewMail starts reading a new message's frontmatter as soon as it
// is announced, when several waits will want it: they then find it read
// instead of queueing behind one another's reads, message after message.
// It runs in the bus's Publish, so the read goes to a goroutine of its own,
// which ends with the read.
func (s *Server) prefetchNewMail(ev mailbus.Event) {
	if s.deps.NewMail.Waiting(ev.Mailbox) < 2 {
		return // a lone wait reads it when it wakes, at once
	}
	go func() {
		defer func() {
			if p := recover(); p != nil {
				s.deps.Panics.Recovered(s.deps.Log, "email_wait prefetch", p)
			}
		}()
		ctx, cancel := context.WithTimeout(context.Background(), fmCacheTTL)
		defer cancel()
		_, _ = s.newMailFrontmatter(ctx, ev.Mailbox, ev.ID) // a failure is the waits' to see
	}()
}
