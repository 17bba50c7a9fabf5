// Package pgbus carries new mail between the nodes of the postgres backend
// (book/scale-out.md, "Search and waiting for mail across nodes"): the
// message store (pgstore/pgmessages) NOTIFYs every stored message on the
// "aimx_mail" channel in the transaction that stores it, and each node's Bridge LISTENs there and
// publishes the messages other nodes stored into its own new-mail
// broadcast (internal/mailbus), so an email_wait on any node wakes for mail
// received by any node. A node's own intake publishes its own messages.
package pgbus

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/internal/mailbus"
	"github.com/aimx-dev/aimx/pgstore"
	"github.com/aimx-dev/aimx/pgstore/pgmessages"
	"github.com/aimx-dev/aimx/storage"
)

// Channel is the NOTIFY channel of new mail, as the postgres message store
// sends it.
const Channel = pgmessages.NotifyChannel

// Limits on what a notice may be (book/scale-out.md): anything else on the
// channel is logged and dropped.
const (
	// maxPayload bounds a notice's bytes: four short fields.
	maxPayload = 1024
	// maxNode bounds a node's name.
	maxNode = 255
)

// Catch-up bounds (book/scale-out.md): after the listening connection was
// lost, the inbox of every mailbox is listed from catchUpSlack before the
// last sign of life, and at most catchUpMax back (the recent set remembers
// that long which messages were published already).
const (
	catchUpSlack = time.Minute
	catchUpMax   = 30 * time.Minute
	// catchUpPage is the page size of the catch-up listing, and
	// catchUpCap the most messages it publishes for one mailbox.
	catchUpPage = 200
	catchUpCap  = 10000
	// readTimeout bounds reading one message's receipt time.
	readTimeout = 5 * time.Second
)

// Bridge publishes other nodes' new mail into the local broadcast. It is
// a daemon component (Start, Stop); set the fields before Start.
type Bridge struct {
	// DB is the shared database; DB.Node names this node, whose own
	// notices are ignored.
	DB *pgstore.DB
	// Bus is the local new-mail broadcast that email_wait and the
	// resource subscriptions listen to.
	Bus *mailbus.Bus
	// Store reads a message's exact receipt time when a wait of its
	// mailbox is under way (else, and when nil, it is read from the id, to
	// the second), and lists the inboxes after a reconnect (nil: nothing is
	// caught up).
	Store storage.MessageStore
	// Mailboxes returns the configured mailbox names, whose inboxes are
	// listed after a reconnect (nil: nothing is caught up).
	Mailboxes func() []string
	// OnRemote, when set, is called for every valid notice of another
	// node (inbox and sent), after the inbox ones are published.
	OnRemote func(mailbox string, folder storage.Folder, id string)
	// Log receives a line per dropped notice and per reconnect.
	Log zerolog.Logger

	cancel    context.CancelFunc
	done      chan struct{}
	connected chan struct{}
	stopWatch func()
	dropped   atomic.Uint64

	mu        sync.Mutex
	recent    map[string]time.Time // "mailbox/id" → when published here
	lastAlive time.Time            // the last notice, or the last (re)connect
}

// Start begins listening; it returns at once. Connected is closed once
// the first LISTEN is up.
func (b *Bridge) Start(ctx context.Context) error {
	if b.DB == nil || b.Bus == nil {
		return errors.New("new-mail bridge: no database or bus")
	}
	ctx, b.cancel = context.WithCancel(ctx)
	b.done = make(chan struct{})
	b.connected = make(chan struct{})
	b.mu.Lock()
	b.recent = map[string]time.Time{}
	b.lastAlive = time.Now()
	b.mu.Unlock()
	// Messages this node's intake publishes are remembered too, so a
	// catch-up never publishes them a second time.
	b.stopWatch = b.Bus.Watch(func(ev mailbus.Event) { b.remember(ev.Mailbox + "/" + ev.ID) })
	up := make(chan struct{})
	go func() {
		select {
		case <-up:
			b.mu.Lock()
			b.lastAlive = time.Now()
			b.mu.Unlock()
			close(b.connected)
		case <-ctx.Done():
		}
	}()
	go func() {
		defer close(b.done)
		b.DB.Listen(ctx, []string{Channel}, up, func(n pgstore.Notification) { b.handle(ctx, n) })
	}()
	return nil
}

// Connected is closed once the bridge listens (for tests and readiness).
func (b *Bridge) Connected() <-chan struct{} { return b.connected }

// Dropped counts the notices dropped as malformed since Start.
func (b *Bridge) Dropped() uint64 { return b.dropped.Load() }

// Stop ends the listening.
func (b *Bridge) Stop(ctx context.Context) error {
	if b.cancel == nil {
		return nil
	}
	b.cancel()
	b.stopWatch()
	select {
	case <-b.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("new-mail bridge stop: %w", ctx.Err())
	}
}

// handle takes one notification: a catch-up after a reconnect, or a notice.
func (b *Bridge) handle(ctx context.Context, n pgstore.Notification) {
	if n.Channel == "" {
		b.catchUp(ctx)
		return
	}
	nt, err := parse(n.Payload)
	if err != nil {
		b.dropped.Add(1)
		b.Log.Warn().Err(err).Int("bytes", len(n.Payload)).Msg("new-mail notice dropped")
		return
	}
	if nt.Node == b.DB.Node {
		return // this node's intake published it
	}
	b.mu.Lock()
	b.lastAlive = time.Now()
	b.mu.Unlock()
	if nt.Folder == storage.Inbox {
		b.publish(ctx, nt.Mailbox, nt.ID, time.Time{})
	}
	if b.OnRemote != nil {
		b.OnRemote(nt.Mailbox, nt.Folder, nt.ID)
	}
}

// parse reads and checks a notice (pgmessages.ParseNotice), and more:
// bounded, from a named node, its mailbox in the canonical form the bus
// keys waits by (book/security.md).
func parse(payload string) (*pgmessages.Notice, error) {
	if len(payload) > maxPayload {
		return nil, fmt.Errorf("notice of %d bytes, at most %d", len(payload), maxPayload)
	}
	nt, err := pgmessages.ParseNotice(payload)
	if err != nil {
		return nil, err
	}
	if nt.Node == "" || len(nt.Node) > maxNode {
		return nil, errors.New("notice without a node name")
	}
	name, _, _, err := domains.ParseMailboxName(nt.Mailbox)
	if err != nil {
		return nil, fmt.Errorf("notice: %w", err)
	}
	if ref, _ := nt.Ref(); name != nt.Mailbox || ref != domains.MailboxRef(name) {
		return nil, fmt.Errorf("notice: mailbox %q is not in its canonical form", nt.Mailbox)
	}
	return &nt, nil
}

// publish publishes an inbox message into the bus once: at is its receipt
// time when known, else read through the store (or from the id).
func (b *Bridge) publish(ctx context.Context, mailbox, id string, at time.Time) {
	key := mailbox + "/" + id
	if b.seen(key) {
		return
	}
	if at.IsZero() {
		var gone bool
		at, gone = b.receivedAt(ctx, mailbox, id)
		if gone {
			return // moved or deleted already (a hook): a wait would skip it
		}
	}
	b.remember(key) // before Publish: the watch then finds it known
	b.Bus.Publish(mailbox, id, at)
}

// receivedAt is a message's receipt time: from its frontmatter through
// the store, or from its id (book/storage.md, "Message names"). gone
// reports a message the store no longer has in the inbox.
func (b *Bridge) receivedAt(ctx context.Context, mailbox, id string) (time.Time, bool) {
	// Read only for a wait of that mailbox: the time serves the waits'
	// since filter, and a wait reads the message anyway.
	if b.Store != nil && b.Bus.Waiting(mailbox) > 0 {
		rctx, cancel := context.WithTimeout(ctx, readTimeout)
		msg, err := b.Store.Read(rctx, domains.MailboxRef(mailbox), storage.Inbox, id)
		cancel()
		switch {
		case err == nil && msg.Frontmatter != nil && !msg.Frontmatter.ReceivedAt.IsZero():
			return msg.Frontmatter.ReceivedAt, false
		case errors.Is(err, storage.ErrNotFound), errors.Is(err, storage.ErrInvalidID):
			return time.Time{}, true
		case err != nil:
			b.Log.Debug().Err(err).Str("mailbox", mailbox).Str("id", id).Msg("new-mail notice: receipt time read from the id")
		}
	}
	return stemTime(id), false
}

// stemTime reads the UTC receipt time an id starts with; now when it has
// none (an id of another shape).
func stemTime(id string) time.Time {
	if len(id) >= 17 {
		if t, err := time.Parse("2006-01-02-150405", id[:17]); err == nil {
			return t
		}
	}
	return time.Now()
}

func (b *Bridge) seen(key string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	_, ok := b.recent[key]
	return ok
}

// remember records key as published, forgetting what is older than
// catchUpMax.
func (b *Bridge) remember(key string) {
	now := time.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.recent == nil {
		return // not started
	}
	b.recent[key] = now
	if len(b.recent)%1024 == 0 {
		for k, at := range b.recent {
			if now.Sub(at) > catchUpMax {
				delete(b.recent, k)
			}
		}
	}
}

// catchUp runs after the listening connection was lost and is back: the
// notices sent meanwhile are gone, so every configured inbox is listed
// from a minute before the last sign of life, and what was not published
// yet is published now, oldest first (book/scale-out.md).
func (b *Bridge) catchUp(ctx context.Context) {
	now := time.Now()
	b.mu.Lock()
	from := b.lastAlive.Add(-catchUpSlack)
	b.lastAlive = now
	b.mu.Unlock()
	if b.Store == nil || b.Mailboxes == nil {
		b.Log.Warn().Msg("new-mail listener reconnected; mail other nodes stored meanwhile is found by email_wait from the store only")
		return
	}
	if floor := now.Add(-catchUpMax); from.Before(floor) {
		from = floor
	}
	type found struct {
		mailbox, id string
		at          time.Time
	}
	var all []found
	for _, name := range b.Mailboxes() {
		for off := 0; off < catchUpCap; off += catchUpPage {
			page, err := b.Store.List(ctx, storage.ListQuery{Mailbox: domains.MailboxRef(name), Folder: storage.Inbox,
				Since: from, Limit: catchUpPage, Offset: off})
			if err != nil {
				if !errors.Is(err, storage.ErrNotFound) && ctx.Err() == nil {
					b.Log.Warn().Err(err).Str("mailbox", name).Msg("new-mail catch-up: inbox not listed")
				}
				break
			}
			for _, m := range page.Messages {
				if b.seen(name + "/" + m.ID) {
					continue
				}
				f := found{mailbox: name, id: m.ID}
				if m.Frontmatter != nil {
					f.at = m.Frontmatter.ReceivedAt
				}
				all = append(all, f)
			}
			if len(page.Messages) < catchUpPage {
				break
			}
		}
	}
	slices.SortStableFunc(all, func(x, y found) int { return x.at.Compare(y.at) })
	for _, f := range all {
		at := f.at
		if at.IsZero() {
			at = stemTime(f.id)
		}
		b.publish(ctx, f.mailbox, f.id, at)
	}
	b.Log.Info().Int("published", len(all)).Time("since", from).Msg("new-mail listener reconnected; caught up from the store")
}
