package inbound

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/aimx-dev/aimx/mail/message"
	"github.com/aimx-dev/aimx/storage"
)

// dedupPageSize is how many messages one List call returns while an index
// is built.
const dedupPageSize = 500

// DedupOptions tunes a Dedup.
type DedupOptions struct {
	// Now is the clock that ages entries (time.Now when nil). Tests move
	// it past the window.
	Now func() time.Time
	// ReadFile reads a stored .eml to recompute the key of mail stored
	// without a Message-Id (os.ReadFile when nil).
	ReadFile func(path string) ([]byte, error)
}

// Dedup recognises a re-delivery of a message already stored in the same
// mailbox within dedup_window (SPEC §5). Its index is derived from the
// stored files, so it survives a restart without any write of its own: a
// mailbox's index is built on first use from its inbox frontmatter
// (message_id and received_at; for mail stored without a Message-Id the key
// is recomputed from its .eml) and kept current on every store. Entries
// older than the window are ignored and pruned.
//
// It is safe for concurrent use: two deliveries of the same key into the
// same mailbox never both store, because the second waits for the first's
// outcome (a per-key in-flight claim).
type Dedup struct {
	store    storage.MessageStore
	now      func() time.Time
	readFile func(string) ([]byte, error)

	mu    sync.Mutex
	boxes map[storage.MailboxRef]*dedupBox
}

// dedupBox is the index of one mailbox.
type dedupBox struct {
	mu        sync.Mutex
	loaded    bool
	since     time.Time            // entries received before this were not loaded
	seen      map[string]seenEntry // key → the stored copy
	inflight  map[string]chan struct{}
	nextPrune time.Time
}

// seenEntry is one stored message a key maps to.
type seenEntry struct {
	at time.Time // received_at
	id string    // its id in the inbox ("" when unknown)
}

// NewDedup returns a Dedup over store.
func NewDedup(store storage.MessageStore, opts DedupOptions) *Dedup {
	d := &Dedup{store: store, now: opts.Now, readFile: opts.ReadFile, boxes: map[storage.MailboxRef]*dedupBox{}}
	if d.now == nil {
		d.now = time.Now
	}
	if d.readFile == nil {
		d.readFile = os.ReadFile
	}
	return d
}

// Claim is one delivery's hold on a dedup key in one mailbox. A claim
// that is not a duplicate must end with Commit (the message was stored) or
// Release (it was not); until then a concurrent claim of the same key waits.
type Claim struct {
	box  *dedupBox
	key  string
	dup  bool
	done bool
}

// Duplicate reports that the message was already stored in the mailbox
// within the window: the delivery stores nothing and answers 250.
func (c *Claim) Duplicate() bool { return c.dup }

// Commit records that the message was stored at receivedAt under id and
// wakes any delivery waiting on the same key, which then sees a duplicate.
func (c *Claim) Commit(receivedAt time.Time, id string) {
	c.finish(func(b *dedupBox) { b.seen[c.key] = seenEntry{at: receivedAt, id: id} })
}

// Release gives the key up without recording it (the store failed), so
// the next delivery of it stores.
func (c *Claim) Release() { c.finish(nil) }

func (c *Claim) finish(record func(*dedupBox)) {
	if c == nil || c.dup || c.done || c.box == nil {
		return
	}
	c.done = true
	b := c.box
	b.mu.Lock()
	defer b.mu.Unlock()
	if record != nil {
		record(b)
	}
	if ch, ok := b.inflight[c.key]; ok {
		delete(b.inflight, c.key)
		close(ch)
	}
}

// Claim looks key up in the mailbox's index, building the index on first
// use. A window of zero or less disables dedup: the claim is never a
// duplicate and records nothing. Claim waits while another delivery holds
// the same key, and returns ctx's error if ctx ends first.
func (d *Dedup) Claim(ctx context.Context, ref storage.MailboxRef, key string, window time.Duration) (*Claim, error) {
	if window <= 0 || key == "" {
		return &Claim{done: true}, nil
	}
	b := d.box(ref)
	for {
		b.mu.Lock()
		now := d.now()
		cutoff := now.Add(-window)
		if !b.loaded || cutoff.Before(b.since) {
			// First use, or the window grew past what was loaded.
			if err := d.load(ctx, ref, b, cutoff); err != nil {
				b.mu.Unlock()
				return nil, err
			}
		}
		b.prune(now, window)
		if e, ok := b.seen[key]; ok && now.Sub(e.at) < window {
			gone, err := d.gone(ctx, ref, e.id)
			if err != nil {
				b.mu.Unlock()
				return nil, err
			}
			if !gone {
				b.mu.Unlock()
				return &Claim{dup: true}, nil
			}
			// The copy it names is no longer there (its mailbox was
			// removed and made again): store this one.
			delete(b.seen, key)
		}
		if ch, ok := b.inflight[key]; ok {
			b.mu.Unlock()
			select {
			case <-ch:
				continue // the other delivery ended: look again
			case <-ctx.Done():
				return nil, fmt.Errorf("dedup %s: wait for concurrent delivery: %w", ref, ctx.Err())
			}
		}
		b.inflight[key] = make(chan struct{})
		b.mu.Unlock()
		return &Claim{box: b, key: key}, nil
	}
}

func (d *Dedup) box(ref storage.MailboxRef) *dedupBox {
	d.mu.Lock()
	defer d.mu.Unlock()
	b, ok := d.boxes[ref]
	if !ok {
		b = &dedupBox{seen: map[string]seenEntry{}, inflight: map[string]chan struct{}{}}
		d.boxes[ref] = b
	}
	return b
}

// load indexes the inbox messages received at or after cutoff. It runs
// with b.mu held; entries already known are kept.
func (d *Dedup) load(ctx context.Context, ref storage.MailboxRef, b *dedupBox, cutoff time.Time) error {
	for off := 0; ; {
		page, err := d.store.List(ctx, storage.ListQuery{
			Mailbox: ref, Folder: storage.Inbox, Limit: dedupPageSize, Offset: off, Since: cutoff,
		})
		if err != nil {
			return fmt.Errorf("dedup %s: build index: %w", ref, err)
		}
		for _, m := range page.Messages {
			key := m.Frontmatter.MessageID
			if key == "" {
				if key, err = d.keyFromEML(ctx, ref, m.ID); err != nil {
					return err
				}
				if key == "" {
					continue // no .eml (Rust mail): nothing to recognise it by
				}
			}
			at := m.Frontmatter.ReceivedAt
			if at.IsZero() {
				// The stem says it is recent (Since); keep it a full window.
				at = d.now()
			}
			if prev, ok := b.seen[key]; !ok || at.After(prev.at) {
				b.seen[key] = seenEntry{at: at, id: m.ID}
			}
		}
		off += len(page.Messages)
		if len(page.Messages) == 0 || off >= page.Total {
			break
		}
	}
	b.loaded = true
	b.since = cutoff
	return nil
}

// gone reports whether the stored copy a dedup entry names has vanished,
// so a re-delivery is stored again rather than absorbed. Only duplicates
// pay this one lookup.
func (d *Dedup) gone(ctx context.Context, ref storage.MailboxRef, id string) (bool, error) {
	if id == "" {
		return false, nil
	}
	_, err := d.store.Read(ctx, ref, storage.Inbox, id)
	switch {
	case err == nil:
		return false, nil
	case errors.Is(err, storage.ErrNotFound):
		return true, nil
	}
	return false, fmt.Errorf("dedup %s: check %s: %w", ref, id, err)
}

// keyFromEML recomputes the dedup key of a stored message from its .eml
// (SPEC §5: sha256 of raw From, Date, Subject and the body); our trace
// headers do not change it. "" when the message has no .eml.
func (d *Dedup) keyFromEML(ctx context.Context, ref storage.MailboxRef, id string) (string, error) {
	m, err := d.store.Read(ctx, ref, storage.Inbox, id)
	if err != nil {
		return "", fmt.Errorf("dedup %s: read %s: %w", ref, id, err)
	}
	if m.EMLPath == "" {
		return "", nil
	}
	raw, err := d.readFile(m.EMLPath)
	if err != nil {
		return "", fmt.Errorf("dedup %s: read %s: %w", ref, m.EMLPath, err)
	}
	return message.DedupKey(raw), nil
}

// prune drops entries that have left the window, at most every
// window/8 (and at least a minute apart), so a busy mailbox does not sweep
// its map on every message.
func (b *dedupBox) prune(now time.Time, window time.Duration) {
	if now.Before(b.nextPrune) {
		return
	}
	for k, e := range b.seen {
		if now.Sub(e.at) >= window {
			delete(b.seen, k)
		}
	}
	b.nextPrune = now.Add(max(window/8, time.Minute))
}

// size reports how many keys the mailbox's index holds (tests).
func (d *Dedup) size(ref storage.MailboxRef) int {
	b := d.box(ref)
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.seen)
}
