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
// removed once every recipient was final).
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
	// by address) and returns the updated item. When every recipient is
	// then final the item is removed, and removed is true.
	Record(ctx context.Context, id string, updates []Recipient) (it Item, removed bool, err error)
	// Len counts the queued items (the `queue` figure of /v1/status).
	Len() int
}
