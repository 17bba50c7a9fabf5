package outbound

import (
	"context"
	"errors"
	"time"
)

// Status is one recipient's delivery state, as the sent copy records it
// (book/sending.md, "Queue").
type Status string

// The recipient statuses. Delivered and failed are final; queued and
// deferred are still due for delivery.
const (
	StatusQueued    Status = "queued"
	StatusDeferred  Status = "deferred"
	StatusDelivered Status = "delivered"
	StatusFailed    Status = "failed"
)

// Final reports whether no more delivery attempts are made for s.
func (s Status) Final() bool { return s == StatusDelivered || s == StatusFailed }

// ErrNotQueued marks an id the queue does not hold (never enqueued, or
// removed: acknowledged with every recipient final, or dropped by Remove).
var ErrNotQueued = errors.New("outbound queue: no such message")

// Submission is a signed message handed to the queue.
type Submission struct {
	// From is the envelope sender (MAIL FROM).
	From string
	// Recipients are the envelope recipients, each delivered separately.
	Recipients []string
	// Mailbox is the sending mailbox (its FQDN name).
	Mailbox string
	// SentID identifies the sent copy the delivery rounds update.
	SentID string
	// Data is the signed message, CRLF lines, sent as it is.
	Data []byte
	// Held keeps the message from delivery until Release (a send that
	// needs approval, book/sending.md "Send policy").
	Held bool
}

// Recipient is one recipient's state in the queue.
type Recipient struct {
	Address string `json:"address"`
	Status  Status `json:"status"`
	// Detail is the remote reply (or our own reason) of the last attempt.
	Detail string `json:"detail,omitempty"`
	// Code and Enhanced are that reply's codes (0 before any attempt).
	Code     int    `json:"code,omitempty"`
	Enhanced [3]int `json:"enhanced"`
	// Attempts counts the delivery attempts made.
	Attempts int `json:"attempts"`
	// TLS is the TLS state of the last connection that reached a server.
	TLS TLSState `json:"tls,omitempty"`
	// NextAttempt is when a queued or deferred recipient is due.
	NextAttempt time.Time `json:"next_attempt"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// due reports whether r is waiting for an attempt at now.
func (r Recipient) due(now time.Time) bool {
	return !r.Status.Final() && !r.NextAttempt.After(now)
}

// Item is one queued message without its bytes.
type Item struct {
	ID         string      `json:"id"`
	From       string      `json:"from"`
	Mailbox    string      `json:"mailbox"`
	SentID     string      `json:"sent_id"`
	Size       int64       `json:"size"`
	Enqueued   time.Time   `json:"enqueued"`
	Recipients []Recipient `json:"recipients"`
	// Held: waiting for approval; no recipient is due until Release.
	Held bool `json:"held,omitempty"`
	// Rounds counts the delivery rounds recorded so far; the latest
	// round's number is Rounds.
	Rounds int `json:"rounds"`
	// Acked is the last round whose outcome was handed on (the sent copy
	// updated): rounds after it still have to be (book/sending.md,
	// "Queue").
	Acked int `json:"acked"`
}

// Done reports whether every recipient is final.
func (it Item) Done() bool {
	for _, r := range it.Recipients {
		if !r.Status.Final() {
			return false
		}
	}
	return true
}

// Due returns the recipients waiting for an attempt at now.
func (it Item) Due(now time.Time) []Recipient {
	if it.Held {
		return nil
	}
	var out []Recipient
	for _, r := range it.Recipients {
		if r.due(now) {
			out = append(out, r)
		}
	}
	return out
}

// Queue holds signed messages until each recipient is delivered or has
// failed. Implementations are safe for concurrent use; the file queue is
// the first, a database-backed one may follow (book/sending.md, "Queue").
type Queue interface {
	// Enqueue stores the message and its recipients (all queued, due at
	// now) and returns only once they are durable. It returns the new item.
	Enqueue(ctx context.Context, s Submission, now time.Time) (Item, error)
	// Due lists the items with at least one recipient due at now, oldest
	// first.
	Due(ctx context.Context, now time.Time) ([]Item, error)
	// Get returns one item, or an error wrapping ErrNotQueued.
	Get(ctx context.Context, id string) (Item, error)
	// Data returns an item's signed message.
	Data(ctx context.Context, id string) ([]byte, error)
	// Record durably replaces the state of the named recipients (matched
	// by address, ignoring case), counts one more round (Rounds) and
	// returns the updated item. It never removes the item: that is Ack's,
	// once the round's outcome was handed on.
	Record(ctx context.Context, id string, updates []Recipient) (Item, error)
	// Ack durably records that the outcome of round (and of every round
	// before it) was handed on. When round is the latest round and every
	// recipient is final, the item is removed instead (the record first,
	// then the message) and removed is true. Acked never goes back: an
	// older round's Ack changes nothing.
	Ack(ctx context.Context, id string, round int) (removed bool, err error)
	// Unacked lists the items with a recorded round not yet acknowledged
	// (Acked < Rounds), oldest first: after a restart, their outcome has
	// to be handed on again.
	Unacked(ctx context.Context) ([]Item, error)
	// Remove drops an item whatever the state of its recipients, or
	// returns an error wrapping ErrNotQueued.
	Remove(ctx context.Context, id string) error
	// Len counts the queued items (the `queue` figure of /v1/status).
	Len() int
	// List returns every item, held ones included, oldest first.
	List(ctx context.Context) ([]Item, error)
	// Release makes a held item due at now, durably; an item not held is
	// left as it is.
	Release(ctx context.Context, id string, now time.Time) (Item, error)
}
