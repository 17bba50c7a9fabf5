// Package mailbus is the daemon's new-mail broadcast (book/mcp.md, "Waiting
// for mail"): intake publishes every message it stores in an inbox, and the
// MCP door's waits (email_wait) and resource subscriptions hear of it at
// once instead of polling the store.
//
// Each published message gets a sequence number. The bus keeps the last
// Options.Retain of them, so a wait that resumes from a cursor (a sequence
// number of an earlier answer) finds what arrived between its calls; a
// subscriber registered before it looks at the store misses nothing stored
// after it registered (no lost wakeups). Publish never blocks: it runs
// inside the SMTP transaction, before the `250`.
//
// The bus is in memory only: a restart starts a new epoch, and a cursor of
// the old one no longer names a place in it (the door then falls back to
// the store, see mcp/wait_tools.go).
package mailbus

import (
	"crypto/rand"
	"sync"
	"time"
)

// DefaultRetain is how many published messages a bus keeps for cursors.
const DefaultRetain = 16384

// DefaultQueue bounds the events one subscriber holds between two Takes.
const DefaultQueue = 4096

// Event is one message newly stored in a mailbox's inbox.
type Event struct {
	// Seq is the event's place in this bus's order, from 1.
	Seq uint64
	// Mailbox is the mailbox's name as configured (local@domain, or
	// *@domain for a catchall).
	Mailbox string
	// ID is the stored message's id in the mailbox's inbox.
	ID string
	// ReceivedAt is the receipt time that named the stored message.
	ReceivedAt time.Time
}

// Options configure a Bus; the zero value takes the defaults.
type Options struct {
	// Retain is how many events the bus keeps for Events (DefaultRetain
	// when zero).
	Retain int
	// Queue bounds each subscriber's pending events (DefaultQueue when
	// zero).
	Queue int
	// Epoch names this bus in cursors; empty means a random one. Tests
	// pin it.
	Epoch string
}

// Bus is the broadcast. It is safe for concurrent use; its zero value is
// not ready, use New.
type Bus struct {
	epoch string
	queue int

	mu      sync.Mutex
	seq     uint64
	ring    []Event                      // event seq s at ring[(s-1) % len(ring)]
	byBox   map[string]map[*Sub]struct{} // subscribers of named mailboxes
	all     map[*Sub]struct{}            // subscribers of every mailbox
	watches map[*watch]struct{}
	closed  bool
	done    chan struct{}
}

// New returns an empty bus.
func New(o Options) *Bus {
	if o.Retain <= 0 {
		o.Retain = DefaultRetain
	}
	if o.Queue <= 0 {
		o.Queue = DefaultQueue
	}
	if o.Epoch == "" {
		o.Epoch = rand.Text()[:16]
	}
	return &Bus{
		epoch:   o.Epoch,
		queue:   o.Queue,
		ring:    make([]Event, o.Retain),
		byBox:   map[string]map[*Sub]struct{}{},
		all:     map[*Sub]struct{}{},
		watches: map[*watch]struct{}{},
		done:    make(chan struct{}),
	}
}

// Epoch names this bus: cursors of another epoch (a daemon before a
// restart) name no place in it.
func (b *Bus) Epoch() string { return b.epoch }

// Publish records that message id was stored in mailbox's inbox, wakes the
// subscribers of that mailbox and calls the watch functions, and returns
// the event's sequence number. It never blocks on a subscriber.
func (b *Bus) Publish(mailbox, id string, receivedAt time.Time) uint64 {
	b.mu.Lock()
	b.seq++
	ev := Event{Seq: b.seq, Mailbox: mailbox, ID: id, ReceivedAt: receivedAt}
	b.ring[(ev.Seq-1)%uint64(len(b.ring))] = ev
	for s := range b.byBox[mailbox] {
		s.push(ev)
	}
	for s := range b.all {
		s.push(ev)
	}
	var fns []func(Event)
	for w := range b.watches {
		fns = append(fns, w.fn)
	}
	b.mu.Unlock()
	for _, fn := range fns {
		fn(ev)
	}
	return ev.Seq
}

// Seq is the sequence number of the last event published (0 for none).
func (b *Bus) Seq() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.seq
}

// Events returns the retained events after seq after and up to seq upto,
// oldest first, for which match (nil: every one) is true. ok is false
// when the bus no longer holds every event after after (more than Retain
// were published since), or when after is not a place in this bus (past
// its last event).
func (b *Bus) Events(after, upto uint64, match func(mailbox string) bool) (evs []Event, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if after > b.seq {
		return nil, false
	}
	upto = min(upto, b.seq)
	n := uint64(len(b.ring))
	if b.seq > n && after < b.seq-n {
		return nil, false
	}
	for s := after + 1; s <= upto; s++ {
		ev := b.ring[(s-1)%n]
		if match == nil || match(ev.Mailbox) {
			evs = append(evs, ev)
		}
	}
	return evs, true
}

// Subscribe registers a subscriber for the named mailboxes (none: every
// mailbox) and returns it with the sequence number of the last event
// published before it registered: every later event for those mailboxes
// reaches it. The caller must Close it.
func (b *Bus) Subscribe(mailboxes ...string) (*Sub, uint64) {
	s := &Sub{b: b, ready: make(chan struct{}, 1), boxes: mailboxes}
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(mailboxes) == 0 {
		b.all[s] = struct{}{}
	}
	for _, m := range mailboxes {
		set := b.byBox[m]
		if set == nil {
			set = map[*Sub]struct{}{}
			b.byBox[m] = set
		}
		set[s] = struct{}{}
	}
	return s, b.seq
}

// Subscribers counts the subscribers registered now (tests use it to see
// that every wait let go of its subscription).
func (b *Bus) Subscribers() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := len(b.all)
	seen := map[*Sub]bool{}
	for _, set := range b.byBox {
		for s := range set {
			if !seen[s] {
				seen[s] = true
				n++
			}
		}
	}
	return n
}

// Waiting counts the subscribers an event of mailbox reaches.
func (b *Bus) Waiting(mailbox string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.byBox[mailbox]) + len(b.all)
}

// Watch calls fn with every event published from now on, synchronously in
// Publish (so fn must not block) and outside the bus's lock. The returned
// function stops it.
func (b *Bus) Watch(fn func(Event)) (stop func()) {
	w := &watch{fn: fn}
	b.mu.Lock()
	b.watches[w] = struct{}{}
	b.mu.Unlock()
	return func() {
		b.mu.Lock()
		delete(b.watches, w)
		b.mu.Unlock()
	}
}

// Close marks the bus as stopping: Done is closed, so waits end at once
// (the daemon closes it when a shutdown begins, so that no wait holds the
// listeners open until the shutdown deadline). Publishing still works.
func (b *Bus) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.closed {
		b.closed = true
		close(b.done)
	}
}

// Done is closed once Close was called.
func (b *Bus) Done() <-chan struct{} { return b.done }

type watch struct{ fn func(Event) }

// Sub is one subscriber: its pending events and a wake-up signal.
type Sub struct {
	b     *Bus
	boxes []string
	ready chan struct{} // one token: events are pending

	// Guarded by b.mu.
	pending  []Event
	overflow bool
	closed   bool
}

// push queues ev and wakes the subscriber; b.mu is held.
func (s *Sub) push(ev Event) {
	if len(s.pending) >= s.b.queue {
		s.overflow = true
	} else {
		s.pending = append(s.pending, ev)
	}
	select {
	case s.ready <- struct{}{}:
	default:
	}
}

// Ready receives a value when events are pending.
func (s *Sub) Ready() <-chan struct{} { return s.ready }

// Take returns the pending events, oldest first, and empties the queue.
// overflow is true when events were dropped because the queue was full:
// the events returned are the ones before the first drop.
func (s *Sub) Take() (evs []Event, overflow bool) {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	evs, overflow = s.pending, s.overflow
	s.pending, s.overflow = nil, false
	return evs, overflow
}

// Close unregisters the subscriber; calling it again does nothing.
func (s *Sub) Close() {
	b := s.b
	b.mu.Lock()
	defer b.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	delete(b.all, s)
	for _, m := range s.boxes {
		if set := b.byBox[m]; set != nil {
			delete(set, s)
			if len(set) == 0 {
				delete(b.byBox, m)
			}
		}
	}
	s.pending = nil
}
