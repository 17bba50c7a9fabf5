package inbound

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/rs/zerolog"

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
	// Log receives stored messages whose key cannot be recomputed (a
	// file that is not regular, or too large).
	Log zerolog.Logger
}

// Dedup recognises a re-delivery of a message already stored in the same
// mailbox within dedup_window (book/smtp.md, book/smtp.md "Deduplication"). The
// key is message.DedupKey: the Message-ID and a digest of From, Date,
// Subject and the body, so a different message that reuses an id (a
// forgery sent first) is not taken for a re-delivery of it.
//
// Its index is derived from the stored files, so it survives a restart
// without any write of its own. A mailbox's index is built on first use
// from its inbox frontmatter: a message with a message_id is listed under
// that id, and its full key is recomputed from its .eml (read through
// store.OpenRaw, size-capped) only when a message with the same id
// arrives; a message without one has its key recomputed at once. A stored
// message without an .eml (written by the Rust aimx) is matched by its id
// alone, the key it was stored under. Entries older than the window are
// ignored and pruned.
//
// It is safe for concurrent use: two deliveries of the same key into the
// same mailbox never both store, because the second waits for the first's
// outcome (a per-key in-flight claim).
type Dedup struct {
	store storage.MessageStore
	now   func() time.Time
	log   zerolog.Logger

	mu    sync.Mutex
	boxes map[storage.MailboxRef]*dedupBox
}

// dedupBox is the index of one mailbox.
type dedupBox struct {
	mu     sync.Mutex
	loaded bool
	since  time.Time            // entries received before this were not loaded
	seen   map[string]seenEntry // full key → the stored copy
	// byID holds copies loaded from the frontmatter whose full key is not
	// computed yet, by Message-ID.
	byID map[string][]seenEntry
	// legacy holds copies with no .eml, matched by Message-ID alone.
	legacy    map[string]seenEntry
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
	d := &Dedup{store: store, now: opts.Now, log: opts.Log, boxes: map[storage.MailboxRef]*dedupBox{}}
	if d.now == nil {
		d.now = time.Now
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
		dup, err := d.lookup(ctx, ref, b, key, now, window)
		if err != nil {
			b.mu.Unlock()
			return nil, err
		}
		if dup {
			b.mu.Unlock()
			return &Claim{dup: true}, nil
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
		b = &dedupBox{
			seen: map[string]seenEntry{}, byID: map[string][]seenEntry{},
			legacy: map[string]seenEntry{}, inflight: map[string]chan struct{}{},
		}
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
			at := m.Frontmatter.ReceivedAt
			if at.IsZero() {
				// The stem says it is recent (Since); keep it a full window.
				at = d.now()
			}
			e := seenEntry{at: at, id: m.ID}
			if id := m.Frontmatter.MessageID; id != "" {
				b.byID[id] = append(b.byID[id], e)
				continue
			}
			key, legacy, err := d.keyOf(ctx, ref, m.ID)
			if err != nil {
				return err
			}
			if key == "" || legacy {
				continue // no .eml (Rust mail) or unreadable: nothing to recognise it by
			}
			b.remember(b.seen, key, e)
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

// lookup reports whether key names a copy still stored within the
// window. It runs with b.mu held. Copies listed under the key's Message-ID
// get their full key computed first.
func (d *Dedup) lookup(ctx context.Context, ref storage.MailboxRef, b *dedupBox, key string, now time.Time, window time.Duration) (bool, error) {
	msgID := message.DedupMessageID(key)
	if msgID != "" {
		if err := d.resolve(ctx, ref, b, msgID); err != nil {
			return false, err
		}
	}
	check := func(m map[string]seenEntry, k string) (bool, error) {
		e, ok := m[k]
		if !ok || now.Sub(e.at) >= window {
			return false, nil
		}
		gone, err := d.gone(ctx, ref, e.id)
		if err != nil {
			return false, err
		}
		if gone {
			// The copy it names is no longer there (its mailbox was
			// removed and made again): store this one.
			delete(m, k)
		}
		return !gone, nil
	}
	if dup, err := check(b.seen, key); dup || err != nil {
		return dup, err
	}
	if msgID == "" {
		return false, nil
	}
	return check(b.legacy, msgID)
}

// resolve computes the full key of the copies listed under msgID from
// their .eml.
func (d *Dedup) resolve(ctx context.Context, ref storage.MailboxRef, b *dedupBox, msgID string) error {
	entries := b.byID[msgID]
	for i, e := range entries {
		key, legacy, err := d.keyOf(ctx, ref, e.id)
		if err != nil {
			b.byID[msgID] = entries[i:]
			return err
		}
		switch {
		case legacy:
			b.remember(b.legacy, msgID, e)
		case key != "":
			b.remember(b.seen, key, e)
		}
	}
	delete(b.byID, msgID)
	return nil
}

// remember records e under k unless a newer copy is there.
func (b *dedupBox) remember(m map[string]seenEntry, k string, e seenEntry) {
	if prev, ok := m[k]; !ok || e.at.After(prev.at) {
		m[k] = e
	}
}

// keyOf recomputes the dedup key of a stored message from its .eml (book/smtp.md); our trace headers do not change it. legacy is true when the message
// has no .eml (Rust mail): it is matched by its Message-ID alone. A file
// that is not regular (a FIFO, book/security.md M1), too large or whose
// header is over the limit has no key: it is logged and skipped, never
// read whole or waited on.
func (d *Dedup) keyOf(ctx context.Context, ref storage.MailboxRef, id string) (key string, legacy bool, err error) {
	f, err := d.store.OpenRaw(ctx, ref, storage.Inbox, id)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return "", true, nil
	case errors.Is(err, storage.ErrNotRegular), errors.Is(err, storage.ErrTooLarge):
		d.log.Warn().Err(err).Str("mailbox", ref.String()).Str("message_id", id).
			Msg("dedup: stored message not readable; it will not absorb a re-delivery")
		return "", false, nil
	case err != nil:
		return "", false, fmt.Errorf("dedup %s: open %s: %w", ref, id, err)
	}
	defer func() { _ = f.Close() }() // read-only
	key, err = message.DedupKeyFrom(io.NewSectionReader(f, 0, f.Size()))
	if errors.Is(err, message.ErrHeaderTooLarge) {
		d.log.Warn().Err(err).Str("mailbox", ref.String()).Str("message_id", id).
			Msg("dedup: stored message header too large; it will not absorb a re-delivery")
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("dedup %s: read %s: %w", ref, id, err)
	}
	return key, false, nil
}

// prune drops entries that have left the window, at most every
// window/8 (and at least a minute apart), so a busy mailbox does not sweep
// its map on every message.
func (b *dedupBox) prune(now time.Time, window time.Duration) {
	if now.Before(b.nextPrune) {
		return
	}
	for _, m := range []map[string]seenEntry{b.seen, b.legacy} {
		for k, e := range m {
			if now.Sub(e.at) >= window {
				delete(m, k)
			}
		}
	}
	for k, es := range b.byID {
		kept := es[:0]
		for _, e := range es {
			if now.Sub(e.at) < window {
				kept = append(kept, e)
			}
		}
		if len(kept) == 0 {
			delete(b.byID, k)
		} else {
			b.byID[k] = kept
		}
	}
	b.nextPrune = now.Add(max(window/8, time.Minute))
}

// size reports how many keys the mailbox's index holds (tests).
func (d *Dedup) size(ref storage.MailboxRef) int {
	b := d.box(ref)
	b.mu.Lock()
	defer b.mu.Unlock()
	n := len(b.seen) + len(b.legacy)
	for _, es := range b.byID {
		n += len(es)
	}
	return n
}
