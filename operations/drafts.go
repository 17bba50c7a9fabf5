package operations

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/mail/outbound"
	"github.com/aimx-dev/aimx/storage"
)

// ErrNoDraft: no held send has that id (or the caller may not see it).
var ErrNoDraft = errors.New("no such draft")

// Draft is a send held for approval (book/sending.md, "Send policy").
type Draft struct {
	// ID is the queue id the operator approves or rejects.
	ID         string    `json:"id"`
	Mailbox    string    `json:"mailbox"`
	SentID     string    `json:"sent_id"`
	Subject    string    `json:"subject"`
	Recipients []string  `json:"recipients"`
	Size       int64     `json:"size"`
	Held       time.Time `json:"held_at"`
}

// Drafts lists, approves and rejects the held sends.
type Drafts struct {
	Store storage.MessageStore
	Queue outbound.Queue
	// Wake tells the delivery worker an approved send is due.
	Wake func()
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

func (d *Drafts) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

// List returns the held sends of the mailboxes sees accepts, oldest first.
func (d *Drafts) List(ctx context.Context, sees func(mailbox string) bool) ([]Draft, error) {
	items, err := d.Queue.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("list drafts: %w", err)
	}
	out := []Draft{}
	for _, it := range items {
		if !it.Held || (sees != nil && !sees(it.Mailbox)) {
			continue
		}
		dr := Draft{ID: it.ID, Mailbox: it.Mailbox, SentID: it.SentID, Size: it.Size, Held: it.Enqueued}
		for _, r := range it.Recipients {
			dr.Recipients = append(dr.Recipients, r.Address)
		}
		if m, err := d.Store.Read(ctx, domains.MailboxRef(it.Mailbox), storage.Sent, it.SentID); err == nil {
			dr.Subject = m.Frontmatter.Subject
		}
		out = append(out, dr)
	}
	return out, nil
}

// held returns the held item id.
func (d *Drafts) held(ctx context.Context, id string) (outbound.Item, error) {
	it, err := d.Queue.Get(ctx, strings.TrimSpace(id))
	if errors.Is(err, outbound.ErrNotQueued) || (err == nil && !it.Held) {
		return outbound.Item{}, fmt.Errorf("%s: %w", id, ErrNoDraft)
	}
	return it, err
}

// Approve releases a held send: it is delivered from now on.
func (d *Drafts) Approve(ctx context.Context, id string) (Draft, error) {
	it, err := d.held(ctx, id)
	if err != nil {
		return Draft{}, err
	}
	if _, err := d.Queue.Release(ctx, it.ID, d.now()); err != nil {
		return Draft{}, fmt.Errorf("approve %s: %w", id, err)
	}
	d.mark(ctx, it, string(outbound.StatusQueued), "")
	if d.Wake != nil {
		d.Wake()
	}
	return Draft{ID: it.ID, Mailbox: it.Mailbox, SentID: it.SentID}, nil
}

// Reject drops a held send; its sent copy says it was rejected.
func (d *Drafts) Reject(ctx context.Context, id string) (Draft, error) {
	it, err := d.held(ctx, id)
	if err != nil {
		return Draft{}, err
	}
	if err := d.Queue.Remove(ctx, it.ID); err != nil {
		return Draft{}, fmt.Errorf("reject %s: %w", id, err)
	}
	d.mark(ctx, it, string(outbound.StatusFailed), "rejected: the send was not approved")
	return Draft{ID: it.ID, Mailbox: it.Mailbox, SentID: it.SentID}, nil
}

// mark sets every recipient of the sent copy to status; a sent copy that
// is gone is no error (the decision is the queue's).
func (d *Drafts) mark(ctx context.Context, it outbound.Item, status, detail string) {
	at := d.now().UTC()
	_, _ = d.Store.SetDelivery(ctx, domains.MailboxRef(it.Mailbox), it.SentID, func(cur []storage.Recipient) (string, []storage.Recipient) {
		for i := range cur {
			cur[i].Status, cur[i].Detail, cur[i].UpdatedAt = status, detail, at
		}
		return status, cur
	})
}
